// The fixture of every test of the command line: it runs the `wafersim` executable of this build directory as a
// shell command, captures its exit status and output, and gives the test a private scratch directory. A missing
// executable fails the test (it is built with the test binaries), so a broken build cannot pass as skipped tests.
//
//   class MyCli : public wafersim::test::CliTest {};
//   TEST_F(MyCli, WritesJson) {
//     const auto r = run("bench fabric --mesh 4x4 --json " + (dir() / "out.json").string());
//     ASSERT_EQ(r.status, 0) << r.out;
//   }
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "sc_tests/test_dir.hpp"

namespace wafersim::test {

struct CliRun {
  int status = -1;  // exit status, -1 if the command could not run or was killed by a signal
  std::string out;  // stdout and stderr
};

// The `wafersim` executable of this build directory, or an empty path if it is missing (callers then fail).
inline std::filesystem::path built_wafersim() {
  const std::filesystem::path exe = std::filesystem::path(WAFERSIM_BINARY_DIR) / "wafersim";
  return std::filesystem::is_regular_file(exe) ? exe : std::filesystem::path();
}

// Runs a whole shell command (it may quote, redirect, wrap in `timeout`) and captures stdout and stderr together.
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

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::is_regular_file(exe()))
        << exe() << " is missing: build the `wafersim` target (the test binaries depend on it)";
  }

  static std::filesystem::path exe() { return std::filesystem::path(WAFERSIM_BINARY_DIR) / "wafersim"; }
  // This test's scratch directory, empty at the start, removed at the end.
  const TestDir& dir() const { return dir_; }

  // Runs `wafersim <args>` through the shell (`args` may quote and redirect).
  static CliRun run(const std::string& args) { return run_cli(exe().string() + " " + args); }

 private:
  TestDir dir_;
};

}  // namespace wafersim::test
