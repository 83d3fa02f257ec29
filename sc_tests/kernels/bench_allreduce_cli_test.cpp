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

TEST_F(BenchAllreduceCli, AxisXyReducesTheWholeMeshInOneProgram) {
  const fs::path json = dir() / "bench_allreduce_xy.json";
  for (const char* algo : {"ktree", "pipeline", "ring"}) {
    const CliRun r = run(std::string("bench allreduce --axis xy --algo ") + algo +
                         " --mesh 7x4 --len 5 --dtype fp16 --verify --json " + json.string());
    ASSERT_EQ(r.status, 0) << algo << "\n" << r.out;
    EXPECT_NE(r.out.find("verified        yes"), std::string::npos) << r.out;
    std::ifstream in(json);
    const auto j = nlohmann::json::parse(in);
    EXPECT_EQ(j["axis"], "xy");
    EXPECT_EQ(j["P"], 28);  // every PE of the mesh
    EXPECT_EQ(j["verified"], true);
    if (std::string(algo) == "ring") {
      EXPECT_TRUE(j["model_cycles"].is_null());
    } else {
      EXPECT_EQ(j["model"], "estimate");
      // The estimate ignores the RAMP's sharing among a CE's streams: it may not exceed the simulation by more than
      // the handover's few cycles.
      EXPECT_LE(j["model_cycles"][0].get<long>(), j["simulated_cycles"].get<long>() + 4) << algo;
    }
    if (std::string(algo) == "ktree") {
      EXPECT_EQ(j["groups"], 3);    // round(sqrt(7))
      EXPECT_EQ(j["groups_y"], 2);  // round(sqrt(4))
    }
  }
  // --timing-only runs the same program without payloads.
  const CliRun t = run("bench allreduce --axis xy --mesh 16x16 --len 8 --timing-only");
  EXPECT_EQ(t.status, 0) << t.out;
  EXPECT_NE(t.out.find("finished        yes"), std::string::npos) << t.out;
}

TEST_F(BenchAllreduceCli, AxisXyModelIsWithinAFewCyclesForOneElement) {
  const fs::path json = dir() / "bench_allreduce_xy1.json";
  const CliRun r = run("bench allreduce --axis xy --mesh 9x6 --len 1 --json " + json.string());
  ASSERT_EQ(r.status, 0) << r.out;
  std::ifstream in(json);
  const auto j = nlohmann::json::parse(in);
  const long sim = j["simulated_cycles"].get<long>(), lo = j["model_cycles"][0].get<long>(),
             hi = j["model_cycles"][1].get<long>();
  EXPECT_LE(lo - 3, sim);
  EXPECT_GE(hi + 3, sim);
}

// --simd32: fp16 partials two per wavelet; the pipeline is link-bound at --len 512, so packing about halves its cycles,
// and the values stay exact (verified against the CPU reduction). It needs fp16 partials.
TEST_F(BenchAllreduceCli, Simd32PacksFp16AndVerifies) {
  const fs::path json = dir() / "bench_allreduce_simd32.json";
  long cycles[2] = {0, 0};
  for (int packed = 0; packed < 2; ++packed) {
    const CliRun r = run(std::string("bench allreduce --algo pipeline --mesh 8x1 --len 512 --dtype fp16 --verify") +
                         (packed ? " --simd32" : "") + " --json " + json.string());
    ASSERT_EQ(r.status, 0) << r.out;
    std::ifstream in(json);
    const auto j = nlohmann::json::parse(in);
    EXPECT_EQ(j["verified"], true);
    EXPECT_EQ(j["simd32"], packed == 1);
    cycles[packed] = j["simulated_cycles"].get<long>();
  }
  EXPECT_LT(cycles[1], cycles[0] * 6 / 10) << cycles[0] << " unpacked, " << cycles[1] << " packed";
  EXPECT_GT(cycles[1], cycles[0] * 4 / 10) << cycles[0] << " unpacked, " << cycles[1] << " packed";
  EXPECT_EQ(run("bench allreduce --simd32").status, 2);                              // fp32 data
  EXPECT_EQ(run("bench allreduce --dtype fp16 --fp32-acc --simd32").status, 2);      // fp32 partials
}
