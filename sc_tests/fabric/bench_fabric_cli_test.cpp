// `wafersim bench fabric` end to end with tracing: the VCD of a window, written while the router phase runs in
// bands on several host threads, is the one a single thread writes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "sc_tests/cli_run.hpp"

namespace fs = std::filesystem;

namespace {

using BenchFabricCli = wafersim::test::CliTest;

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

TEST_F(BenchFabricCli, VcdIsIdenticalOnOneAndThreeHostThreads) {
  std::string vcd[2];
  for (int k = 0; k < 2; ++k) {
    const fs::path path = dir() / ("bench_fabric_" + std::to_string(k) + ".vcd");
    // The traced window straddles the rows where three bands meet on this 24x18 mesh.
    const wafersim::test::CliRun r =
        run("bench fabric --mesh 24x18 --pattern uniform --cycles 300 --vcd " + path.string() +
            " --trace-region 4,4,9,13 --set simulation.parallel_min_routers=1 --set simulation.host_threads=" +
            (k == 0 ? "1" : "3"));
    ASSERT_EQ(r.status, 0) << r.out;
    vcd[k] = vcd_without_date(path);
  }
  EXPECT_GT(vcd[0].size(), 10000u);
  EXPECT_EQ(vcd[0], vcd[1]);
}

}  // namespace
