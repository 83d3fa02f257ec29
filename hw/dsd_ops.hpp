// The element semantics of the DSD operations, compile-time per op code: the op table (operand element types) and
// elem<C>(a, b, c), the result bits of op C given its source bits. apply_op (dsd.cpp) dispatches to elem<C> per
// call; the compute engine's memory operations instantiate one typed loop per op (ComputeEngine::run_memory_op).
// Internal to hw/.
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>

#include "common/fp16.hpp"
#include "hw/dsd.hpp"

namespace wafersim::hw::ops {

using E = ElemType;
inline constexpr OpInfo kOps[] = {
    {"fmach", 2, true, E::F16, E::F16, E::F16},  {"fmachs", 2, true, E::F32, E::F32, E::F16},
    {"fmacs", 2, true, E::F32, E::F32, E::F32},  {"faddh", 2, false, E::F16, E::F16, E::F16},
    {"fadds", 2, false, E::F32, E::F32, E::F32}, {"fsubh", 2, false, E::F16, E::F16, E::F16},
    {"fsubs", 2, false, E::F32, E::F32, E::F32}, {"fmulh", 2, false, E::F16, E::F16, E::F16},
    {"fmuls", 2, false, E::F32, E::F32, E::F32}, {"fmaxh", 2, false, E::F16, E::F16, E::F16},
    {"fmaxs", 2, false, E::F32, E::F32, E::F32}, {"fmovh", 1, false, E::F16, E::F16, E::F16},
    {"fmovs", 1, false, E::F32, E::F32, E::F32}, {"mov16", 1, false, E::U16, E::U16, E::U16},
    {"mov32", 1, false, E::U32, E::U32, E::U32}, {"fnegh", 1, false, E::F16, E::F16, E::F16},
    {"fnegs", 1, false, E::F32, E::F32, E::F32}, {"fh2s", 1, false, E::F32, E::F16, E::F16},
    {"fs2h", 1, false, E::F16, E::F32, E::F32},
    {"add16", 2, false, E::U16, E::U16, E::U16},  {"sub16", 2, false, E::U16, E::U16, E::U16},
    {"and16", 2, false, E::U16, E::U16, E::U16},  {"or16", 2, false, E::U16, E::U16, E::U16},
    {"xor16", 2, false, E::U16, E::U16, E::U16},
};
constexpr const OpInfo& info(OpCode c) { return kOps[static_cast<int>(c)]; }
constexpr int bytes(ElemType t) { return (t == E::F16 || t == E::U16) ? 2 : 4; }

inline float f32(std::uint32_t b) { return std::bit_cast<float>(b); }
inline std::uint32_t b32(float f) { return std::bit_cast<std::uint32_t>(f); }
inline float h2f(std::uint32_t b) { return f16_bits_to_f32(static_cast<std::uint16_t>(b)); }
inline std::uint32_t f2h(float f) { return f32_to_f16_bits(f); }
// IEEE maxNum: a NaN operand yields the other operand.
inline float fmax_num(float a, float b) {
  if (std::isnan(a)) return b;
  if (std::isnan(b)) return a;
  return a < b ? b : a;
}

template <OpCode C>
inline std::uint32_t elem(std::uint32_t a, std::uint32_t b, std::uint32_t c) {
  using O = OpCode;
  if constexpr (C == O::Fmach) return f2h(h2f(a) + h2f(f2h(h2f(b) * h2f(c))));
  else if constexpr (C == O::Fmachs) return b32(f32(a) + h2f(b) * h2f(c));  // the f16 x f16 product is exact in f32
  else if constexpr (C == O::Fmacs) {
    volatile float p = f32(b) * f32(c);  // two roundings, never contracted into an FMA
    return b32(f32(a) + p);
  }
  else if constexpr (C == O::Faddh) return f2h(h2f(a) + h2f(b));
  else if constexpr (C == O::Fadds) return b32(f32(a) + f32(b));
  else if constexpr (C == O::Fsubh) return f2h(h2f(a) - h2f(b));
  else if constexpr (C == O::Fsubs) return b32(f32(a) - f32(b));
  else if constexpr (C == O::Fmulh) return f2h(h2f(a) * h2f(b));
  else if constexpr (C == O::Fmuls) return b32(f32(a) * f32(b));
  else if constexpr (C == O::Fmaxh) return f2h(fmax_num(h2f(a), h2f(b)));
  else if constexpr (C == O::Fmaxs) return b32(fmax_num(f32(a), f32(b)));
  else if constexpr (C == O::Fmovh || C == O::Mov16) return a & 0xffffu;
  else if constexpr (C == O::Fmovs || C == O::Mov32) return a;
  else if constexpr (C == O::Fnegh) return (a ^ 0x8000u) & 0xffffu;
  else if constexpr (C == O::Fnegs) return a ^ 0x80000000u;
  else if constexpr (C == O::Fh2s) return b32(h2f(a));
  else if constexpr (C == O::Fs2h) return f2h(f32(a));
  else if constexpr (C == O::Add16) return (a + b) & 0xffffu;
  else if constexpr (C == O::Sub16) return (a - b) & 0xffffu;
  else if constexpr (C == O::And16) return a & b & 0xffffu;
  else if constexpr (C == O::Or16) return (a | b) & 0xffffu;
  else return (a ^ b) & 0xffffu;  // Xor16
}

// Calls fn.template operator()<C>() with the op code as a compile-time constant.
template <class Fn>
decltype(auto) dispatch(OpCode c, Fn&& fn) {
  using O = OpCode;
  switch (c) {
#define WAFERSIM_OP(X) \
  case O::X: return fn.template operator()<O::X>();
    WAFERSIM_OP(Fmach) WAFERSIM_OP(Fmachs) WAFERSIM_OP(Fmacs) WAFERSIM_OP(Faddh) WAFERSIM_OP(Fadds)
    WAFERSIM_OP(Fsubh) WAFERSIM_OP(Fsubs) WAFERSIM_OP(Fmulh) WAFERSIM_OP(Fmuls) WAFERSIM_OP(Fmaxh)
    WAFERSIM_OP(Fmaxs) WAFERSIM_OP(Fmovh) WAFERSIM_OP(Fmovs) WAFERSIM_OP(Mov16) WAFERSIM_OP(Mov32)
    WAFERSIM_OP(Fnegh) WAFERSIM_OP(Fnegs) WAFERSIM_OP(Fh2s) WAFERSIM_OP(Fs2h) WAFERSIM_OP(Add16)
    WAFERSIM_OP(Sub16) WAFERSIM_OP(And16) WAFERSIM_OP(Or16) WAFERSIM_OP(Xor16)
#undef WAFERSIM_OP
  }
  return fn.template operator()<O::Xor16>();  // not reached: every op code is listed
}

}  // namespace wafersim::hw::ops
