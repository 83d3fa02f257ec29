// Runs a shell command (the built `wafersim` binary, typically) and captures its exit status and output, for
// the tests of the command line.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace wafersim::test {

struct CliRun {
  int status = -1;
  std::string out;  // stdout and stderr
};

// The `wafersim` executable of this build directory, or an empty path if it was not built (CLI tests then skip).
inline std::filesystem::path built_wafersim() {
  const std::filesystem::path exe = std::filesystem::path(WAFERSIM_BINARY_DIR) / "wafersim";
  return std::filesystem::exists(exe) ? exe : std::filesystem::path();
}

inline CliRun run_cli(const std::string& command) {
  CliRun r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace wafersim::test
