// IEEE 754 binary16 ("fp16", the WSE's default 16-bit float format) and bfloat16 as bit patterns, with exact
// conversions: float -> half/bf16 rounds to nearest, ties to even, with subnormals, infinities and NaNs. One
// implementation for the wafer's datapath (hw/) and the CPU oracle and model files (models/), so both round alike.
// Portable (no F16C needed). Not modelled: Cerebras' own cb16 format, fp8, floating-point exception flags.
#pragma once
#include <bit>
#include <cstdint>

namespace wafersim {

// ---- binary16 ------------------------------------------------------------------------------------------------

constexpr float f16_bits_to_f32(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));  // inf / NaN (payload kept)
  if (exp != 0) return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
  if (mant == 0) return std::bit_cast<float>(sign);
  // Subnormal: value = mant * 2^-24; normalise into a float (always exact).
  int e = 113;  // biased float exponent of 2^-14
  while ((mant & 0x400u) == 0) {
    mant <<= 1;
    --e;
  }
  return std::bit_cast<float>(sign | (std::uint32_t(e) << 23) | ((mant & 0x3ffu) << 13));
}

constexpr std::uint16_t f32_to_f16_bits(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const std::uint16_t sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t exp = (x >> 23) & 0xffu;
  const std::uint32_t mant = x & 0x7fffffu;
  if (exp == 0xff) {
    if (mant == 0) return sign | 0x7c00u;
    return static_cast<std::uint16_t>(sign | 0x7e00u | (mant >> 13));  // quiet NaN, top payload bits kept
  }
  const int e = int(exp) - 127 + 15;  // biased half exponent
  if (e >= 31) return sign | 0x7c00u;
  if (e <= 0) {
    if (e < -10) return sign;  // below half the smallest subnormal (2^-25): rounds to zero
    const std::uint32_t m = mant | 0x800000u;
    const int shift = 14 - e;  // 14..24
    std::uint32_t h = m >> shift;
    const std::uint32_t rem = m & ((1u << shift) - 1u), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (h & 1u))) ++h;  // may carry into the smallest normal: correct
    return static_cast<std::uint16_t>(sign | h);
  }
  std::uint32_t h = (std::uint32_t(e) << 10) | (mant >> 13);
  const std::uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // a carry may reach 0x7c00 = inf: correct
  return static_cast<std::uint16_t>(sign | h);
}

constexpr bool f16_is_nan(std::uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0; }

// Arithmetic on halves rounds once per operation: the operation is done in float and rounded to half. For
// + - * / of half operands this double rounding is innocuous (float has 24 >= 2*11+2 significand bits), so the
// result equals a correctly rounded half operation.
struct Half {
  std::uint16_t bits = 0;
  constexpr Half() = default;
  constexpr explicit Half(float f) : bits(f32_to_f16_bits(f)) {}
  static constexpr Half from_bits(std::uint16_t b) {
    Half h;
    h.bits = b;
    return h;
  }
  constexpr explicit operator float() const { return f16_bits_to_f32(bits); }
  constexpr float to_float() const { return f16_bits_to_f32(bits); }
  friend constexpr Half operator+(Half a, Half b) { return Half(a.to_float() + b.to_float()); }
  friend constexpr Half operator-(Half a, Half b) { return Half(a.to_float() - b.to_float()); }
  friend constexpr Half operator*(Half a, Half b) { return Half(a.to_float() * b.to_float()); }
  friend constexpr bool operator==(Half a, Half b) { return a.to_float() == b.to_float(); }
};
static_assert(sizeof(Half) == 2);

// ---- bfloat16 ------------------------------------------------------------------------------------------------

constexpr float bf16_bits_to_f32(std::uint16_t b) { return std::bit_cast<float>(std::uint32_t(b) << 16); }

constexpr std::uint16_t f32_to_bf16_bits(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x7fffffu) != 0)
    return static_cast<std::uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  return static_cast<std::uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

}  // namespace wafersim
