// fp16 / bf16 conversions: exhaustive over all 65536 half bit patterns against the compiler's _Float16 (libgcc's
// software conversion, an independent implementation), plus the rounding corner cases spelled out.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>

#include "common/fp16.hpp"

using namespace wafersim;

namespace {
std::uint16_t ref_f32_to_f16(float f) {
  volatile float v = f;
  _Float16 h = static_cast<_Float16>(v);
  std::uint16_t b;
  std::memcpy(&b, &h, 2);
  return b;
}
float ref_f16_to_f32(std::uint16_t b) {
  _Float16 h;
  std::memcpy(&h, &b, 2);
  return static_cast<float>(h);
}
bool same(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}
}  // namespace

TEST(Fp16, HalfToFloatMatchesReferenceForAll65536Patterns) {
  int mismatches = 0;
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const float got = f16_bits_to_f32(static_cast<std::uint16_t>(b));
    const float want = ref_f16_to_f32(static_cast<std::uint16_t>(b));
    if (!same(got, want) && ++mismatches < 5) ADD_FAILURE() << std::hex << "half 0x" << b << ": " << got << " vs " << want;
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(Fp16, FloatToHalfRoundTripsEveryHalfAndMatchesReference) {
  int mismatches = 0;
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const std::uint16_t h = static_cast<std::uint16_t>(b);
    const float f = f16_bits_to_f32(h);
    const std::uint16_t back = f32_to_f16_bits(f);
    if (f16_is_nan(h)) {
      if (!f16_is_nan(back)) ++mismatches;
      continue;
    }
    if (back != h || back != ref_f32_to_f16(f)) ++mismatches;
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(Fp16, MidpointsBetweenAdjacentHalvesRoundToEvenAndNeighboursToNearest) {
  // For every pair of adjacent finite positive halves: the exact midpoint (representable in float), and the
  // floats just below and above it.
  int mismatches = 0;
  for (std::uint16_t h = 0; h < 0x7bff; ++h) {
    const float lo = f16_bits_to_f32(h), hi = f16_bits_to_f32(static_cast<std::uint16_t>(h + 1));
    const float mid = (lo + hi) / 2;  // exact
    const std::uint16_t even = (h & 1) ? static_cast<std::uint16_t>(h + 1) : h;
    for (float s : {1.0f, -1.0f}) {
      const std::uint16_t sign = s < 0 ? 0x8000 : 0;
      if (f32_to_f16_bits(s * mid) != (even | sign)) ++mismatches;
      if (f32_to_f16_bits(s * std::nextafter(mid, 0.0f)) != (h | sign)) ++mismatches;
      if (f32_to_f16_bits(s * std::nextafter(mid, INFINITY)) != ((h + 1) | sign)) ++mismatches;
      if (f32_to_f16_bits(s * mid) != ref_f32_to_f16(s * mid)) ++mismatches;
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(Fp16, RandomFloatsMatchReference) {
  std::mt19937 rng(7);
  int mismatches = 0;
  for (int i = 0; i < 2000000; ++i) {
    const float f = std::bit_cast<float>(static_cast<std::uint32_t>(rng()));
    const std::uint16_t got = f32_to_f16_bits(f), want = ref_f32_to_f16(f);
    if (f16_is_nan(want) ? !f16_is_nan(got) : got != want) ++mismatches;
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(Fp16, CornerCases) {
  EXPECT_EQ(f32_to_f16_bits(65504.0f), 0x7bff);         // largest finite
  EXPECT_EQ(f32_to_f16_bits(65519.99f), 0x7bff);        // below the overflow midpoint
  EXPECT_EQ(f32_to_f16_bits(65520.0f), 0x7c00);         // midpoint to 2^16 rounds (to even) to inf
  EXPECT_EQ(f32_to_f16_bits(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(f32_to_f16_bits(std::ldexp(1.0f, -25)), 0x0000);  // half of it: tie to even -> 0
  EXPECT_EQ(f32_to_f16_bits(std::ldexp(3.0f, -26)), 0x0001);  // 0.75 ulp -> 1 ulp
  EXPECT_EQ(f32_to_f16_bits(std::ldexp(1023.5f, -24)), 0x0400);  // rounds up into the smallest normal
  EXPECT_EQ(f32_to_f16_bits(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16_bits(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // tie -> even (1.0)
  EXPECT_EQ(f32_to_f16_bits(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie -> even (1 + 2^-9)
  EXPECT_EQ(f32_to_f16_bits(INFINITY), 0x7c00);
  EXPECT_TRUE(f16_is_nan(f32_to_f16_bits(NAN)));
  EXPECT_EQ(f16_bits_to_f32(0x3555), 0.333251953125f);
}

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16_bits(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16_bits(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie, even stays
  EXPECT_EQ(f32_to_bf16_bits(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(f32_to_bf16_bits(std::bit_cast<float>(0x3f808001u)), 0x3f81);
  EXPECT_EQ(bf16_bits_to_f32(0x4049), 3.140625f);
  EXPECT_TRUE(std::isnan(bf16_bits_to_f32(f32_to_bf16_bits(NAN))));
}
