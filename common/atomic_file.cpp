#include "common/atomic_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <stdexcept>

namespace wafersim {

namespace fs = std::filesystem;

// ---- Interrupt cleanup: a fixed table the signal handler can walk with async-signal-safe calls only. ----
namespace {

enum SlotState : int { kFree = 0, kClaimed, kFile, kDirectory };
struct Slot {
  std::atomic<int> state{kFree};
  char path[PATH_MAX];
};
constexpr int kSlots = 64;
Slot g_slots[kSlots];
std::atomic<bool> g_deferring{false};
std::atomic<int> g_deferred_signal{0};
constexpr int kCleanupSignals[] = {SIGINT, SIGTERM, SIGHUP};

extern "C" void remove_temporaries_and_die(int sig) {
  if (g_deferring.load()) {
    g_deferred_signal.store(sig);
    return;
  }
  for (auto& s : g_slots)
    if (s.state.load() == kFile) ::unlink(s.path);
  for (auto& s : g_slots)
    if (s.state.load() == kDirectory) ::rmdir(s.path);
  // The default action (termination by this signal) runs once the handler returns and unblocks it.
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// Checked at every registration (three system calls), so that a signal reset to its default, e.g. in a forked
// child, gets the handler again.
void install_handler() {
  for (int sig : kCleanupSignals) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) != 0) continue;
    // An ignored signal (nohup, background job of a script) stays ignored; a handler someone else set stays.
    if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) continue;
    struct sigaction sa {};
    sa.sa_handler = remove_temporaries_and_die;
    sa.sa_flags = SA_RESTART;  // under InterruptsDeferred the handler returns: system calls then go on
    sigemptyset(&sa.sa_mask);
    for (int other : kCleanupSignals) sigaddset(&sa.sa_mask, other);
    ::sigaction(sig, &sa, nullptr);
  }
}

int register_temporary(const fs::path& path, bool directory) {
  install_handler();
  const std::string abs = fs::absolute(path).string();
  if (abs.size() >= PATH_MAX) throw std::runtime_error(path.string() + ": path too long");
  for (int i = 0; i < kSlots; ++i) {
    int expected = kFree;
    if (g_slots[i].state.compare_exchange_strong(expected, kClaimed)) {
      std::memcpy(g_slots[i].path, abs.c_str(), abs.size() + 1);
      g_slots[i].state.store(directory ? kDirectory : kFile);
      return i;
    }
  }
  throw std::logic_error("more than " + std::to_string(kSlots) + " temporary outputs at once");
}

void unregister_temporary(int slot) {
  if (slot >= 0) g_slots[slot].state.store(kFree);
}

std::string os_reason(int err) { return std::strerror(err); }

// Follows a chain of symbolic links to the path that finally names the file (which may not exist yet).
fs::path follow_links(fs::path p) {
  for (int hops = 0; hops < 40; ++hops) {
    std::error_code ec;
    if (!fs::is_symlink(fs::symlink_status(p, ec))) return p;
    const fs::path to = fs::read_symlink(p, ec);
    if (ec) throw std::runtime_error(p.string() + ": cannot read the symbolic link (" + ec.message() + ")");
    p = to.is_absolute() ? to : p.parent_path() / to;
  }
  throw std::runtime_error(p.string() + ": " + os_reason(ELOOP));
}

// What writing `path` means, or a runtime_error "<path>: <problem> (<OS reason>)".
OutputKind classify(const std::string& path, fs::path& target) {
  if (path == "-") return OutputKind::Stdout;
  if (path.empty()) throw std::runtime_error("empty file name");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) throw std::runtime_error(path + ": is a directory (" + os_reason(EISDIR) + ")");
    const std::string abs = fs::absolute(path).lexically_normal().string();
    // /dev/stdout, /proc/self/fd/N and the like name an open file, possibly a regular one: never replace it.
    if (!S_ISREG(st.st_mode) || abs.starts_with("/dev/") || abs.starts_with("/proc/")) {
      if (::access(path.c_str(), W_OK) != 0) throw std::runtime_error(path + ": cannot write (" + os_reason(errno) + ")");
      target = path;
      return OutputKind::Stream;
    }
  } else if (errno != ENOENT) {
    throw std::runtime_error(path + ": cannot reach (" + os_reason(errno) + ")");
  }
  target = follow_links(path);
  fs::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  struct stat ds {};
  if (::stat(dir.c_str(), &ds) != 0)
    throw std::runtime_error(path + ": directory " + dir.string() + " " +
                             (errno == ENOENT ? "does not exist" : "cannot be reached") + " (" + os_reason(errno) + ")");
  if (!S_ISDIR(ds.st_mode))
    throw std::runtime_error(path + ": " + dir.string() + " is not a directory (" + os_reason(ENOTDIR) + ")");
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw std::runtime_error(path + ": directory " + dir.string() + " is not writable (" + os_reason(errno) + ")");
  return OutputKind::File;
}

// Copies all of file `from` to descriptor `to`; returns 0 or the errno of the failure.
int copy_to_fd(const fs::path& from, int to) {
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return errno;
  char buf[1 << 16];
  int err = 0;
  while (true) {
    const ssize_t n = ::read(in, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    for (ssize_t done = 0; done < n && !err;) {
      const ssize_t w = ::write(to, buf + done, std::size_t(n - done));
      if (w < 0 && errno != EINTR) err = errno;
      if (w > 0) done += w;
    }
    if (err) break;
  }
  ::close(in);
  return err;
}

}  // namespace

void check_output_path(const std::string& path, const std::string& option, bool allow_stdout) {
  if (path == "-" && !allow_stdout)
    throw std::runtime_error(option + " -: standard output is not possible here; give a file name");
  try {
    PendingOutput probe(path);  // creates (and removes) the temporary: proves the directory takes a new file
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(option + " " + e.what());
  }
}

bool writes_through(const std::string& path) {
  fs::path target;
  try {
    return classify(path, target) != OutputKind::File;
  } catch (const std::runtime_error&) {
    return false;
  }
}

std::ostream& text_stream(const std::string& output) {
  struct stat out{}, named{};
  const bool is_stdout = output == "-" || (!output.empty() && ::stat(output.c_str(), &named) == 0 &&
                                           ::fstat(STDOUT_FILENO, &out) == 0 && named.st_dev == out.st_dev &&
                                           named.st_ino == out.st_ino);
  return is_stdout ? std::cerr : std::cout;
}

PendingOutput::PendingOutput(const fs::path& path, const std::string& temp_extension) : path_(path) {
  kind_ = classify(path.string(), target_);
  const std::string ext = temp_extension.empty() ? path.extension().string() : temp_extension;
  const std::string tag = ".tmp." + std::to_string(::getpid());
  if (kind_ == OutputKind::File) {
    temp_ = target_.parent_path() / (target_.stem().string() + tag + ext);
  } else {
    static std::atomic<int> serial{0};
    temp_ = fs::temp_directory_path() / ("wafersim" + tag + "." + std::to_string(serial++) + ext);
  }
  slot_ = register_temporary(temp_, false);
  const int fd = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    const int err = errno;
    unregister_temporary(slot_);
    throw std::runtime_error(path.string() + ": cannot create " +
                             (kind_ == OutputKind::File ? "a file in directory " : "a temporary file in ") +
                             (temp_.has_parent_path() ? temp_.parent_path().string() : std::string(".")) + " (" +
                             os_reason(err) + ")");
  }
  ::close(fd);
}

PendingOutput::~PendingOutput() { discard(); }

void PendingOutput::discard() noexcept {
  if (!open_) return;
  open_ = false;
  ::unlink(temp_.c_str());
  unregister_temporary(slot_);
}

void PendingOutput::commit() {
  if (!open_) throw std::logic_error(path_.string() + ": output committed or discarded twice");
  int err = 0;
  std::string what;
  if (kind_ == OutputKind::File) {
    if (::rename(temp_.c_str(), target_.c_str()) != 0) {
      err = errno;
      what = "cannot move " + temp_.string() + " onto " + target_.string();
    }
  } else if (kind_ == OutputKind::Stdout) {
    std::cout.flush();
    std::fflush(stdout);
    err = copy_to_fd(temp_, STDOUT_FILENO);
    what = "cannot write to standard output";
  } else {
    // Appending: a device or FIFO ignores it, and /dev/stdout redirected to a file keeps what was printed before.
    const int fd = ::open(target_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    err = fd < 0 ? errno : copy_to_fd(temp_, fd);
    if (fd >= 0 && ::close(fd) != 0 && !err) err = errno;
    what = "cannot write";
  }
  discard();
  if (err) throw std::runtime_error(path_.string() + ": " + what + " (" + os_reason(err) + ")");
}

void write_file_atomically(const fs::path& path, const std::function<void(std::ostream&)>& write, bool binary) {
  PendingOutput out(path);
  {
    std::ofstream os(out.temp(), binary ? std::ios::binary | std::ios::trunc : std::ios::trunc);
    if (!os) throw std::runtime_error(path.string() + ": cannot open " + out.temp().string() + " for writing");
    write(os);
    os.flush();
    if (!os) throw std::runtime_error(path.string() + ": write failed");  // errno is not reliable after a stream
  }
  out.commit();
}

InterruptCleanup::InterruptCleanup(const fs::path& path, bool directory)
    : slot_(register_temporary(path, directory)) {}

InterruptCleanup::~InterruptCleanup() { unregister_temporary(slot_); }

InterruptsDeferred::InterruptsDeferred() {
  install_handler();
  g_deferring.store(true);
}

InterruptsDeferred::~InterruptsDeferred() {
  g_deferring.store(false);
  if (const int sig = g_deferred_signal.exchange(0)) ::raise(sig);
}

}  // namespace wafersim
