// `wafersim bench gemm` end to end: the printed summary, the JSON keys (each listed in docs/results.md), --verify's
// exit status for every algorithm, --timing-only, --vcd, the SRAM refusal before simulating, usage errors.
#include "sc_tests/cli_run.hpp"
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace fs = std::filesystem;

namespace {
using wafersim::test::CliRun;
using BenchGemmCli = wafersim::test::CliTest;

TEST_F(BenchGemmCli, EveryAlgorithmVerifiesAndWritesDocumentedKeys) {
  std::ifstream doc_in(fs::path(WAFERSIM_SOURCE_DIR) / "docs/results.md");
  const std::string doc((std::istreambuf_iterator<char>(doc_in)), std::istreambuf_iterator<char>());
  const fs::path json = dir() / "gemm.json";
  for (const char* algo : {"mesh", "cannon", "summa", "dist-t"})
    for (const char* accum : {"fp16", "fp32"}) {
      const CliRun r = run(std::string("bench gemm --algo ") + algo + " --accum " + accum +
                           " --mesh 3x3 --m 7 --k 10 --n 5 --verify --json " + json.string());
      ASSERT_EQ(r.status, 0) << algo << " " << accum << "\n" << r.out;
      EXPECT_NE(r.out.find("verified            yes"), std::string::npos) << r.out;
      std::ifstream in(json);
      const auto j = nlohmann::json::parse(in);
      EXPECT_EQ(j["verified"], true);
      EXPECT_EQ(j["algo"], algo);
      EXPECT_GT(j["simulated_cycles"].get<long>(), 0);
      EXPECT_GT(j["model_cycles"].get<long>(), 0);
      EXPECT_GT(j["compute_efficiency"].get<double>(), 0.0);
      EXPECT_LE(j["compute_efficiency"].get<double>(), 1.0);
      EXPECT_GT(j["sram_bytes_per_pe_max"].get<long>(), 4096);  // symbols plus the code reserve (as generate)
      for (const auto& [key, value] : j.items())
        EXPECT_NE(doc.find("`" + key + "`"), std::string::npos) << "key " << key << " is not in docs/results.md";
    }
}

TEST_F(BenchGemmCli, TimingOnlyGivesTheSameCycles) {
  const CliRun a = run("bench gemm --mesh 4x4 --m 16 --k 16 --n 16 --verify");
  const CliRun b = run("bench gemm --mesh 4x4 --m 16 --k 16 --n 16 --timing-only");
  ASSERT_EQ(a.status, 0) << a.out;
  ASSERT_EQ(b.status, 0) << b.out;
  const auto cycles = [](const std::string& out) {
    const auto at = out.find("cycles");
    return out.substr(at, out.find('\n', at) - at);
  };
  EXPECT_EQ(cycles(a.out), cycles(b.out));
}

TEST_F(BenchGemmCli, VcdTracesTheRun) {
  const fs::path vcd = dir() / "gemm.vcd";
  const CliRun r = run("bench gemm --mesh 4x4 --m 8 --k 8 --n 8 --vcd " + vcd.string());
  ASSERT_EQ(r.status, 0) << r.out;
  ASSERT_TRUE(fs::exists(vcd));
  EXPECT_GT(fs::file_size(vcd), 1000u);
}

TEST_F(BenchGemmCli, RefusesAShapeOverSramBeforeSimulating) {
  const CliRun r = run("bench gemm --mesh 2x2 --m 512 --k 512 --n 512");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("bytes of SRAM per PE but only"), std::string::npos) << r.out;
}

TEST_F(BenchGemmCli, BadOptionsAreUsageErrors) {
  EXPECT_EQ(run("bench gemm --algo strassen").status, 2);
  EXPECT_EQ(run("bench gemm --accum fp8").status, 2);
  const CliRun wide = run("bench gemm --mesh 4x2");
  EXPECT_EQ(wide.status, 2);
  EXPECT_NE(wide.out.find("must be square (PxP)"), std::string::npos) << wide.out;
  EXPECT_NE(wide.out.find("lcm(W,H)"), std::string::npos) << wide.out;
  EXPECT_EQ(run("bench gemm --verify --timing-only").status, 2);
  EXPECT_EQ(run("bench gemm --m 0").status, 2);
}

}  // namespace
