// `wafersim bench gemv` end to end: the three algorithms verify, the JSON keys (each listed in docs/results.md), the
// SRAM refusal before simulating, usage errors.
#include "sc_tests/cli_run.hpp"
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

namespace fs = std::filesystem;

namespace {
using wafersim::test::CliRun;

using BenchGemvCli = wafersim::test::CliTest;

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

TEST_F(BenchGemvCli, EveryAlgorithmVerifiesAndWritesTheDocumentedKeys) {
  std::ifstream doc_in(fs::path(WAFERSIM_SOURCE_DIR) / "docs/results.md");
  const std::string doc((std::istreambuf_iterator<char>(doc_in)), std::istreambuf_iterator<char>());
  const std::string section = doc.substr(doc.find("## `wafersim bench gemv`"));
  for (const char* algo : {"mesh", "pipeline", "ring"})
    for (const char* accum : {"fp16", "fp32"}) {
      const fs::path json = dir() / (std::string(algo) + accum + ".json");
      const CliRun r = run(std::string("bench gemv --algo ") + algo + " --accum " + accum +
                           " --mesh 5x5 --k 37 --n 23 --verify --quiet --json " + json.string());
      ASSERT_EQ(r.status, 0) << algo << " " << accum << "\n" << r.out;
      EXPECT_NE(r.out.find("verified            yes"), std::string::npos) << r.out;
      const nlohmann::json j = read_json(json);
      for (const auto& [key, value] : j.items())
        EXPECT_NE(doc.find("`" + key + "`"), std::string::npos) << "key " << key << " is not in docs/results.md";
      for (const char* key : {"simulated_cycles", "simulated_microseconds", "compute_efficiency", "comm_share",
                              "model_cycles", "colors_per_pe_max", "sram_bytes_per_pe_max", "verified",
                              "max_abs_error", "host_seconds", "peak_rss_bytes"}) {
        EXPECT_TRUE(j.contains(key)) << key;
        if (std::string(key) != "host_seconds" && std::string(key) != "peak_rss_bytes" &&
            std::string(key) != "simulated_cycles" && std::string(key) != "simulated_microseconds") {
          EXPECT_NE(section.find("`" + std::string(key) + "`"), std::string::npos) << key << " not in the gemv table";
        }
      }
      EXPECT_EQ(j["verified"], true);
      EXPECT_EQ(j["block"], nlohmann::json({8, 5}));  // ceil(37/5) x ceil(23/5)
      // W rows padded to 8 elements, x to 10 (y 4 bytes off W's bank pair), y, plus the code reserve as in generate
      // (configs/wse2.yaml pe.code_reserve_bytes: 4096)
      EXPECT_EQ(j["sram_bytes_per_pe_max"], 2 * 8 * 8 + 2 * 10 + (std::string(accum) == "fp32" ? 4 : 2) * 5 + 4096);
      const long cycles = j["simulated_cycles"].get<long>();
      EXPECT_GT(cycles, j["local_cycles"].get<long>());
      EXPECT_GT(j["compute_efficiency"].get<double>(), 0.0);
      EXPECT_LT(j["compute_efficiency"].get<double>(), 1.0);
      if (std::string(algo) == "ring") {
        EXPECT_EQ(j["model"], "estimate");
        EXPECT_NEAR(j["model_cycles"][0].get<double>(), double(cycles), 6.0);
      } else {
        EXPECT_EQ(j["model"], "lower bound");
        EXPECT_LE(j["model_cycles"][0].get<long>(), cycles) << algo;
      }
    }
}

TEST_F(BenchGemvCli, TimingOnlyAndThreeLevels) {
  const CliRun r = run("bench gemv --mesh 16x16 --k 1000 --n 999 --levels 3 --groups 6 --timing-only --quiet");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("K-tree K=3 G=6"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("finished            yes"), std::string::npos) << r.out;
}

TEST_F(BenchGemvCli, RefusesAShapeOverTheSramBeforeSimulating) {
  const CliRun r = run("bench gemv --mesh 2x2 --k 4001 --n 4001 --timing-only --quiet");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("2001x2001"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("45056 bytes of SRAM"), std::string::npos) << r.out;
}

TEST_F(BenchGemvCli, NonSquareMeshCutsKAlongTheWidthAndNAlongTheHeight) {
  const fs::path json = dir() / "wide.json";
  const CliRun r = run("bench gemv --mesh 5x3 --k 37 --n 23 --verify --quiet --json " + json.string());
  ASSERT_EQ(r.status, 0) << r.out;
  const nlohmann::json j = read_json(json);
  EXPECT_EQ(j["verified"], true);
  EXPECT_EQ(j["mesh"], nlohmann::json({5, 3}));
  EXPECT_EQ(j["block"], nlohmann::json({8, 8}));  // ceil(37/5) x ceil(23/3)
}

TEST_F(BenchGemvCli, BadOptionsAreUsageErrors) {
  EXPECT_EQ(run("bench gemv --algo summa").status, 2);
  EXPECT_EQ(run("bench gemv --accum fp8").status, 2);
  EXPECT_EQ(run("bench gemv --levels 4").status, 2);
  EXPECT_EQ(run("bench gemv --algo ring --groups 2").status, 2);
  EXPECT_EQ(run("bench gemv --mesh 4x8 --groups 5").status, 2);  // groups split the width (the allreduce line)
  EXPECT_EQ(run("bench gemv --mesh 4x4 --groups 5").status, 2);
  EXPECT_EQ(run("bench gemv --verify --timing-only").status, 2);
}

}  // namespace
