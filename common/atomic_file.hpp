// Output files of every command (results, traces, checkpoints): checked up front, then either complete or absent.
// A file is written to a temporary beside its target ("<stem>.tmp.<pid><ext>") and renamed onto it; "-" means
// standard output and a device or FIFO is written through, both from a temporary in $TMPDIR so that nothing is
// half-written there either. A symbolic link stays a link: its final target gets the content. Temporaries are
// listed so that SIGINT, SIGTERM and SIGHUP remove them before the signal ends the process.
#pragma once
#include <filesystem>
#include <fstream>
#include <functional>
#include <iosfwd>
#include <string>

namespace wafersim {

// Checks, before any long work, that `path` can be written as the output of `option`: "-" (only if
// `allow_stdout`), a device or FIFO open for writing, or a file that is not a directory and whose directory
// exists and is writable. Throws std::runtime_error "<option> <path>: <what is wrong> (<OS reason>)".
void check_output_path(const std::string& path, const std::string& option, bool allow_stdout = true);

// True if `path` is "-" or an existing device or FIFO: written through, no file is created under that name.
bool writes_through(const std::string& path);

// Where a command prints its human-readable text: standard error when its data goes to standard output
// (`output` is "-", or names the file standard output is open on: /dev/stdout, or the file stdout is redirected
// to), standard output otherwise.
std::ostream& text_stream(const std::string& output);

// How an output path is written: renamed into place, copied to standard output ("-"), or written through to a
// device or FIFO (also /dev/stdout, /proc/self/fd/N).
enum class OutputKind { File, Stdout, Stream };

// One output being written: temp() names the temporary file (created empty here, so an unwritable place fails at
// once), commit() moves its content to the target. Not committed, the temporary is removed by the destructor.
class PendingOutput {
 public:
  // `temp_extension` ends the temporary's name (default: the target's extension), for writers that append one.
  explicit PendingOutput(const std::filesystem::path& path, const std::string& temp_extension = "");
  ~PendingOutput();
  PendingOutput(const PendingOutput&) = delete;
  PendingOutput& operator=(const PendingOutput&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::filesystem::path& temp() const { return temp_; }
  bool writes_through() const { return kind_ != OutputKind::File; }
  // Renames the temporary onto the (resolved) target, or copies it to standard output / the device and removes
  // it. Throws std::runtime_error naming the path and the OS reason; the temporary is gone either way.
  void commit();
  // Removes the temporary without writing the target (what the destructor does).
  void discard() noexcept;

 private:
  std::filesystem::path path_, target_, temp_;
  OutputKind kind_ = OutputKind::File;
  int slot_ = -1;  // in the interrupt cleanup list
  bool open_ = true;
};

// Calls write(stream) on a PendingOutput for `path` and commits it. If write throws, nothing is written and the
// exception propagates. Throws std::runtime_error naming the path on I/O failure.
void write_file_atomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write,
                           bool binary = false);

// Lists a temporary file or directory (removed with rmdir, after the files) that a SIGINT, SIGTERM or SIGHUP must
// not leave behind; the handler removes it, then the signal's default action ends the process. The handler is
// installed for signals that are not ignored. The path leaves the list (and stays on disk) on destruction.
class InterruptCleanup {
 public:
  explicit InterruptCleanup(const std::filesystem::path& path, bool directory = false);
  ~InterruptCleanup();
  InterruptCleanup(const InterruptCleanup&) = delete;
  InterruptCleanup& operator=(const InterruptCleanup&) = delete;

 private:
  int slot_;
};

// While one exists, a SIGINT, SIGTERM or SIGHUP (in any thread) waits: for steps that must not stop halfway, such
// as swapping a directory into place. A signal that arrived meanwhile takes effect on destruction. Not nested.
class InterruptsDeferred {
 public:
  InterruptsDeferred();
  ~InterruptsDeferred();
  InterruptsDeferred(const InterruptsDeferred&) = delete;
  InterruptsDeferred& operator=(const InterruptsDeferred&) = delete;
};

}  // namespace wafersim
