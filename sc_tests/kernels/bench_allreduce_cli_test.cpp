// `wafersim bench allreduce` end to end: the printed summary, the JSON keys, --verify's exit status, usage errors.
// Skipped when the wafersim executable is not built in this build directory.
#include "sc_tests/cli_run.hpp"
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/wait.h>

namespace fs = std::filesystem;

namespace {
using wafersim::test::CliRun;
using wafersim::test::run_cli;

class BenchAllreduceCli : public ::testing::Test {
 protected:
  void SetUp() override {
    exe_ = wafersim::test::built_wafersim();
    if (exe_.empty()) GTEST_SKIP() << "wafersim is not built in " << WAFERSIM_BINARY_DIR;
  }
  fs::path exe_;
};
}  // namespace

TEST_F(BenchAllreduceCli, VerifiedRunWritesTheJsonKeys) {
  const fs::path json = fs::temp_directory_path() / ("bench_allreduce_" + std::to_string(::getpid()) + ".json");
  const CliRun r = run_cli(exe_.string() + " bench allreduce --algo ktree --axis y --mesh 2x16 --len 8 --dtype fp16 "
                                    "--fp32-acc --verify --json " + json.string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("verified        yes"), std::string::npos) << r.out;
  std::ifstream in(json);
  const auto j = nlohmann::json::parse(in);
  for (const char* k : {"simulated_cycles", "simulated_microseconds", "colors_per_pe_max", "verified", "host_seconds"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["verified"], true);
  EXPECT_GT(j["simulated_cycles"].get<long>(), 0);
  EXPECT_LE(j["colors_per_pe_max"].get<int>(), 6);
  fs::remove(json);
}

TEST_F(BenchAllreduceCli, EveryAlgorithmVerifiesAlongX) {
  for (const char* algo : {"pipeline", "ring", "ktree"}) {
    const CliRun r = run_cli(exe_.string() + " bench allreduce --algo " + algo + " --mesh 9x2 --len 5 --op max --verify");
    EXPECT_EQ(r.status, 0) << algo << "\n" << r.out;
  }
}

TEST_F(BenchAllreduceCli, BadOptionsAreUsageErrors) {
  EXPECT_EQ(run_cli(exe_.string() + " bench allreduce --algo tree").status, 2);
  EXPECT_EQ(run_cli(exe_.string() + " bench allreduce --axis z").status, 2);
  EXPECT_EQ(run_cli(exe_.string() + " bench allreduce --k 4").status, 2);
  EXPECT_EQ(run_cli(exe_.string() + " bench allreduce --verify --timing-only").status, 2);
}
