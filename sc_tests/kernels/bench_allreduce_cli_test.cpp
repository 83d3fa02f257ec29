// `wafersim bench allreduce` end to end: the printed summary, the JSON keys, --verify's exit status, usage errors.
#include "sc_tests/cli_run.hpp"
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace fs = std::filesystem;

namespace {
using wafersim::test::CliRun;

using BenchAllreduceCli = wafersim::test::CliTest;
}  // namespace

TEST_F(BenchAllreduceCli, VerifiedRunWritesTheJsonKeys) {
  const fs::path json = dir() / "bench_allreduce.json";
  const CliRun r =
      run("bench allreduce --algo ktree --axis y --mesh 2x16 --len 8 --dtype fp16 --fp32-acc --verify --json " +
          json.string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("verified        yes"), std::string::npos) << r.out;
  std::ifstream in(json);
  const auto j = nlohmann::json::parse(in);
  for (const char* k : {"simulated_cycles", "simulated_microseconds", "colors_per_pe_max", "verified", "host_seconds"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["verified"], true);
  EXPECT_GT(j["simulated_cycles"].get<long>(), 0);
  EXPECT_LE(j["colors_per_pe_max"].get<int>(), 6);
}

TEST_F(BenchAllreduceCli, EveryAlgorithmVerifiesAlongX) {
  for (const char* algo : {"pipeline", "ring", "ktree"}) {
    const CliRun r = run(std::string("bench allreduce --algo ") + algo + " --mesh 9x2 --len 5 --op max --verify");
    EXPECT_EQ(r.status, 0) << algo << "\n" << r.out;
  }
}

TEST_F(BenchAllreduceCli, BadOptionsAreUsageErrors) {
  EXPECT_EQ(run("bench allreduce --algo tree").status, 2);
  EXPECT_EQ(run("bench allreduce --axis z").status, 2);
  EXPECT_EQ(run("bench allreduce --k 4").status, 2);
  EXPECT_EQ(run("bench allreduce --verify --timing-only").status, 2);
}
