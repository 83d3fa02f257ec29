// Coroutine task bodies: a task body that returns Coro may suspend on a blocking (synchronous) fabric DSD operation
// (CSL: a fabric builtin without .async) and continue when the operation completes; the compute engine keeps the
// main thread busy meanwhile (docs/firmware.md, "Blocking fabric operations").
// A Coro starts at once when called (no initial suspension) and runs until its first suspension or its end. A Coro
// can itself be co_awaited, so a helper that issues blocking operations is a Coro too: the caller resumes when the
// helper ends (symmetric transfer); an exception in the helper reaches the caller at its co_await.
// Not modelled: anything but blocking operations suspends (no co_await on time or on tasks).
#pragma once
#include <coroutine>
#include <exception>
#include <utility>

namespace wafersim::hw {

class [[nodiscard]] Coro {
 public:
  struct promise_type {
    std::coroutine_handle<> continuation;  // the awaiting coroutine, resumed when this one ends
    std::exception_ptr error;

    Coro get_return_object() { return Coro(std::coroutine_handle<promise_type>::from_promise(*this)); }
    std::suspend_never initial_suspend() noexcept { return {}; }
    auto final_suspend() noexcept {
      struct Final {
        bool await_ready() noexcept { return false; }
        std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
          auto next = h.promise().continuation;
          return next ? next : std::noop_coroutine();
        }
        void await_resume() noexcept {}
      };
      return Final{};
    }
    void return_void() {}
    void unhandled_exception() { error = std::current_exception(); }
  };

  Coro() = default;
  Coro(Coro&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Coro& operator=(Coro&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  Coro(const Coro&) = delete;
  Coro& operator=(const Coro&) = delete;
  ~Coro() { reset(); }

  explicit operator bool() const { return bool(h_); }
  bool done() const { return !h_ || h_.done(); }
  // Rethrows what the body threw, once it is done.
  void rethrow() const {
    if (h_ && h_.done() && h_.promise().error) std::rethrow_exception(h_.promise().error);
  }
  void reset() {
    if (h_) h_.destroy();
    h_ = {};
  }

  // co_await on a Coro: the awaiting coroutine continues when this one ends.
  bool await_ready() const noexcept { return done(); }
  void await_suspend(std::coroutine_handle<> awaiting) noexcept { h_.promise().continuation = awaiting; }
  void await_resume() const { rethrow(); }

 private:
  explicit Coro(std::coroutine_handle<promise_type> h) : h_(h) {}
  std::coroutine_handle<promise_type> h_;
};

}  // namespace wafersim::hw
