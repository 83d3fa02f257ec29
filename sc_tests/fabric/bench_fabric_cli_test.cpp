// `wafersim bench fabric` end to end with tracing: the VCD of a window, written while the router phase runs in
// bands on several host threads, is the one a single thread writes. Skipped when the executable is not built.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "sc_tests/cli_run.hpp"

namespace fs = std::filesystem;

namespace {

std::string vcd_without_date(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream out;
  std::string line;
  bool in_date = false;
  while (std::getline(in, line)) {
    if (line.find("$date") != std::string::npos) in_date = true;
    if (!in_date) out << line << "\n";
    if (in_date && line.find("$end") != std::string::npos) in_date = false;
  }
  return out.str();
}

TEST(BenchFabricCli, VcdIsIdenticalOnOneAndThreeHostThreads) {
  const fs::path exe = wafersim::test::built_wafersim();
  if (exe.empty()) GTEST_SKIP() << "wafersim is not built in " << WAFERSIM_BINARY_DIR;
  std::string vcd[2];
  for (int k = 0; k < 2; ++k) {
    const fs::path path = fs::temp_directory_path() /
                          ("bench_fabric_" + std::to_string(::getpid()) + "_" + std::to_string(k) + ".vcd");
    // The traced window straddles the rows where three bands meet on this 24x18 mesh.
    const wafersim::test::CliRun r = wafersim::test::run_cli(
        exe.string() + " bench fabric --mesh 24x18 --pattern uniform --cycles 300 --vcd " + path.string() +
        " --trace-region 4,4,9,13 --set simulation.parallel_min_routers=1 --set simulation.host_threads=" +
        (k == 0 ? "1" : "3"));
    ASSERT_EQ(r.status, 0) << r.out;
    vcd[k] = vcd_without_date(path);
    fs::remove(path);
    fs::path gtkw = path;
    fs::remove(gtkw.replace_extension(".gtkw"));
  }
  EXPECT_GT(vcd[0].size(), 10000u);
  EXPECT_EQ(vcd[0], vcd[1]);
}

}  // namespace
