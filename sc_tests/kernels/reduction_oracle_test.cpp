// The reduction oracle every collective is checked against: the exact line result and the error bound it allows.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "common/fp16.hpp"
#include "firmware/kernels/reduction_oracle.hpp"

using namespace wafersim;
using namespace wafersim::kernels;

namespace {
CollectiveConfig row_of(int width, DType t, ReduceOp op) {
  CollectiveConfig c;
  c.width = width;
  c.height = 2;
  c.axis = Axis::X;
  c.dtype = t;
  c.op = op;
  return c;
}
// PE (x, y) holds x + 10 y + k / 4 (exact in fp16 and fp32).
double input(int x, int y, std::uint32_t k) { return x + 10.0 * y + k / 4.0; }
}  // namespace

TEST(ReductionOracle, SumsEachLineExactlyAndBoundsTheRoundingOfEveryPartialSum) {
  const CollectiveConfig c = row_of(4, DType::F32, ReduceOp::Sum);
  const ReducedElement r = reduce_line(c, 1, 2, input);  // row 1: 10.5 + 11.5 + 12.5 + 13.5
  EXPECT_EQ(r.exact, 48.0);
  // P * eps_acc * sum|v| + eps_out * |exact| + 1e-7, with eps = 2^-24 for fp32.
  EXPECT_DOUBLE_EQ(r.tolerance, 4 * std::ldexp(1.0, -24) * 48.0 + std::ldexp(1.0, -24) * 48.0 + 1e-7);
}

TEST(ReductionOracle, Fp16SumsAllowHalfPrecisionRoundingUnlessAccumulatedInFp32) {
  CollectiveConfig c = row_of(4, DType::F16, ReduceOp::Sum);
  const double f16 = reduce_line(c, 0, 0, input).tolerance;  // 0 + 1 + 2 + 3
  EXPECT_DOUBLE_EQ(f16, 4 * std::ldexp(1.0, -11) * 6.0 + std::ldexp(1.0, -11) * 6.0 + 1e-7);
  c.fp32_accumulate = true;
  const double acc32 = reduce_line(c, 0, 0, input).tolerance;
  EXPECT_DOUBLE_EQ(acc32, 4 * std::ldexp(1.0, -24) * 6.0 + std::ldexp(1.0, -11) * 6.0 + 1e-7);
}

TEST(ReductionOracle, MaxIsExact) {
  CollectiveConfig c = row_of(3, DType::F32, ReduceOp::Max);
  c.axis = Axis::Y;
  c.height = 5;
  const ReducedElement r = reduce_line(c, 2, 0, input);  // column 2: 2, 12, 22, 32, 42
  EXPECT_EQ(r.exact, 42.0);
  EXPECT_EQ(r.tolerance, 0.0);
}

TEST(ReductionOracle, RandomFp16InputsAreHalvesInTheUnitInterval) {
  std::mt19937 rng(3);
  const std::vector<float> v = random_inputs(1000, rng, DType::F16);
  ASSERT_EQ(v.size(), 1000u);
  for (float x : v) {
    EXPECT_GE(x, -1.0f);
    EXPECT_LE(x, 1.0f);
    EXPECT_EQ(Half(x).to_float(), x);  // representable: rounding to fp16 changes nothing
  }
  std::mt19937 a(3), b(3);
  EXPECT_EQ(random_inputs(10, a, DType::F32), random_inputs(10, b, DType::F32));  // same seed, same inputs
}
