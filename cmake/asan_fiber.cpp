// Linked into every executable of the sanitizer build only (-DWAFERSIM_SANITIZE=ON, see CMakeLists.txt).
//
// Debian's SystemC announces its coroutine switches to AddressSanitizer (weak references to
// __sanitizer_start_switch_fiber), but for the switch back to the main coroutine it passes an empty stack
// (bottom 0, size 0). From then on ASan does not know the thread's real stack: when an exception unwinds frames it
// skips the clean-up of their shadow ("ASan is ignoring requested __asan_handle_no_return", google/sanitizers#189),
// and the stale redzones left behind are later reported as stack-buffer-overflows in frames that reuse that stack
// (even inside ASan's own sigaltstack interceptor). This definition takes the place of ASan's for libsystemc
// (the executable comes first in symbol lookup), replaces an empty destination stack by the calling thread's real
// stack bounds, and forwards to ASan's implementation. Nothing else changes.
#include <dlfcn.h>
#include <pthread.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>

namespace {

struct StackBounds {
  const void* bottom = nullptr;
  std::size_t size = 0;
};

// The thread's own stack (for the main thread glibc derives it from the stack rlimit and /proc/self/maps).
StackBounds thread_stack() {
  thread_local const StackBounds bounds = [] {
    StackBounds b;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      void* addr = nullptr;
      std::size_t size = 0;
      if (pthread_attr_getstack(&attr, &addr, &size) == 0) b = {addr, size};
      pthread_attr_destroy(&attr);
    }
    return b;
  }();
  return bounds;
}

}  // namespace

extern "C" void __sanitizer_start_switch_fiber(void** fake_stack_save, const void* bottom, std::size_t size) {
  using Fn = void (*)(void**, const void*, std::size_t);
  static const Fn asan = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "__sanitizer_start_switch_fiber"));
  if (asan == nullptr) {
    std::fputs("asan_fiber: ASan's __sanitizer_start_switch_fiber not found\n", stderr);
    std::abort();
  }
  if (bottom == nullptr || size == 0) {
    const StackBounds own = thread_stack();
    bottom = own.bottom;
    size = own.size;
  }
  asan(fake_stack_save, bottom, size);
}
