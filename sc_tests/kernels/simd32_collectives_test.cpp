// simd_32 packing in the collectives (CollectiveConfig::simd32): fp16 partials travel two per wavelet, so a
// link-bound fp16 allreduce takes about half the cycles of fp32, and its values are exactly those of the unpacked
// fp16 run (same operations in the same order), within the CPU oracle's bound.
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "sc_tests/kernels/kernel_harness.hpp"

using namespace wafersim;
using namespace wafersim::kernels;

namespace {
CollectiveConfig line(DType t, bool simd32, std::uint32_t len) {
  CollectiveConfig cfg;
  cfg.width = 6;
  cfg.height = 2;
  cfg.length = len;
  cfg.dtype = t;
  cfg.simd32 = simd32;
  return cfg;
}

void check_half(const test::Builder& build, const char* what, std::uint32_t len) {
  const test::Outcome f32 = test::run_collective(build, line(DType::F32, false, len), 5);
  const test::Outcome f16 = test::run_collective(build, line(DType::F16, false, len), 5);
  const test::Outcome packed = test::run_collective(build, line(DType::F16, true, len), 5);
  ASSERT_TRUE(packed.finished) << what;
  EXPECT_EQ(packed.out, f16.out) << what << ": packing must not change a value";
  test::expect_reduced(line(DType::F16, true, len), packed, [](int) { return true; }, what);
  const double ratio = double(packed.cycles) / double(f32.cycles);
  EXPECT_GT(ratio, 0.40) << what << ": " << packed.cycles << " vs fp32 " << f32.cycles;
  EXPECT_LT(ratio, 0.60) << what << ": " << packed.cycles << " vs fp32 " << f32.cycles;
  EXPECT_EQ(f16.cycles, f32.cycles) << what << ": unpacked fp16 moves one value per wavelet, as fp32";
}
}  // namespace

TEST(Simd32Collectives, PipelineAllreduceTakesAboutHalfTheCyclesOfFp32) {
  check_half([](const CollectiveConfig& c, const hw::ArchParams& a) { return pipeline_allreduce(c, a); }, "pipeline",
             512);
}

TEST(Simd32Collectives, KTreeAllreduceTakesAboutHalfTheCyclesOfFp32) {
  check_half([](const CollectiveConfig& c, const hw::ArchParams& a) { return ktree_allreduce(c, a); }, "ktree", 511);
}

TEST(Simd32Collectives, RingAllreduceWithOddChunksTakesAboutHalfTheCyclesOfFp32) {
  check_half([](const CollectiveConfig& c, const hw::ArchParams& a) { return ring_allreduce(c, a); }, "ring", 509);
}

TEST(Simd32Collectives, PackingNeedsFp16Partials) {
  for (const auto& [t, acc] : {std::pair{DType::F32, false}, std::pair{DType::F16, true}}) {
    CollectiveConfig cfg = line(t, true, 8);
    cfg.fp32_accumulate = acc;
    try {
      ktree_allreduce(cfg, hw::ArchParams{});
      FAIL() << "simd32 with fp32 partials must be rejected";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("simd32 packs two fp16 per wavelet"), std::string::npos) << e.what();
    }
  }
}
