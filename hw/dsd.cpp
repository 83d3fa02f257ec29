#include "hw/dsd.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include "common/fp16.hpp"

namespace wafersim::hw {

namespace {
using E = ElemType;
constexpr OpInfo kOps[] = {
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

float f32(std::uint32_t b) { return std::bit_cast<float>(b); }
std::uint32_t b32(float f) { return std::bit_cast<std::uint32_t>(f); }
float h2f(std::uint32_t b) { return f16_bits_to_f32(static_cast<std::uint16_t>(b)); }
std::uint32_t f2h(float f) { return f32_to_f16_bits(f); }
// IEEE maxNum: a NaN operand yields the other operand.
float fmax_num(float a, float b) {
  if (std::isnan(a)) return b;
  if (std::isnan(b)) return a;
  return a < b ? b : a;
}
}  // namespace

const OpInfo& op_info(OpCode op) { return kOps[static_cast<int>(op)]; }

int simd_width(OpCode op, const SimdParams& s) {
  switch (op) {
    case OpCode::Fmach: return s.fmach;
    case OpCode::Fmachs: return s.fmachs;
    case OpCode::Fmacs: return s.fmacs;
    case OpCode::Faddh: case OpCode::Fsubh: case OpCode::Fmulh: case OpCode::Fmovh: case OpCode::Fnegh:
      return s.fp16_ops;
    case OpCode::Fadds: case OpCode::Fsubs: case OpCode::Fmuls: case OpCode::Fmovs: case OpCode::Fnegs:
      return s.fp32_ops;
    case OpCode::Fmaxh: return s.fmaxh;
    case OpCode::Fmaxs: return s.fmaxs;
    case OpCode::Mov16: case OpCode::Add16: case OpCode::Sub16: case OpCode::And16: case OpCode::Or16:
    case OpCode::Xor16:
      return s.mov16;
    case OpCode::Mov32: return s.mov32;
    case OpCode::Fh2s: case OpCode::Fs2h: return s.convert;
  }
  return 1;
}

int stride_width_cap(std::int32_t s) {
  if (s == 0 || s == 1) return 1 << 30;
  const int m = ((s % 8) + 8) % 8;
  switch (m) {
    case 2: case 3: case 5: case 6: return 1 << 30;
    case 1: case 7: return 2;
    case 4: return 2;
    default: return 1;  // multiple of 8
  }
}

int stride_width_cap(const MemDsd& d) {
  if (d.scalar_ref) return 1 << 30;
  for (int k = 0; k < d.dims; ++k)
    if (d.extent[k] > 1) return stride_width_cap(d.stride[k]);
  return 1 << 30;
}

std::uint32_t apply_op(OpCode op, std::uint32_t a, std::uint32_t b, std::uint32_t c) {
  switch (op) {
    case OpCode::Fmach: return f2h(h2f(a) + h2f(f2h(h2f(b) * h2f(c))));
    case OpCode::Fmachs: return b32(f32(a) + h2f(b) * h2f(c));  // the f16 x f16 product is exact in f32
    case OpCode::Fmacs: {
      volatile float p = f32(b) * f32(c);  // two roundings, never contracted into an FMA
      return b32(f32(a) + p);
    }
    case OpCode::Faddh: return f2h(h2f(a) + h2f(b));
    case OpCode::Fadds: return b32(f32(a) + f32(b));
    case OpCode::Fsubh: return f2h(h2f(a) - h2f(b));
    case OpCode::Fsubs: return b32(f32(a) - f32(b));
    case OpCode::Fmulh: return f2h(h2f(a) * h2f(b));
    case OpCode::Fmuls: return b32(f32(a) * f32(b));
    case OpCode::Fmaxh: return f2h(fmax_num(h2f(a), h2f(b)));
    case OpCode::Fmaxs: return b32(fmax_num(f32(a), f32(b)));
    case OpCode::Fmovh: case OpCode::Mov16: return a & 0xffffu;
    case OpCode::Fmovs: case OpCode::Mov32: return a;
    case OpCode::Fnegh: return (a ^ 0x8000u) & 0xffffu;
    case OpCode::Fnegs: return a ^ 0x80000000u;
    case OpCode::Fh2s: return b32(h2f(a));
    case OpCode::Fs2h: return f2h(f32(a));
    case OpCode::Add16: return (a + b) & 0xffffu;
    case OpCode::Sub16: return (a - b) & 0xffffu;
    case OpCode::And16: return a & b & 0xffffu;
    case OpCode::Or16: return (a | b) & 0xffffu;
    case OpCode::Xor16: return (a ^ b) & 0xffffu;
  }
  return 0;
}

std::string describe(const Operand& o) {
  if (auto* m = std::get_if<MemDsd>(&o)) {
    if (m->scalar_ref) return "&scalar@" + std::to_string(m->base);
    return "mem" + std::string(m->dims == 1 ? "1d" : "4d") + "@" + std::to_string(m->base) + "[" +
           std::to_string(m->length()) + "]";
  }
  auto mode = [](SimdMode m) {
    return m == SimdMode::Simd32 ? std::string(", simd_32") : m == SimdMode::Simd64 ? std::string(", simd_64") : "";
  };
  if (auto* f = std::get_if<FabinDsd>(&o))
    return "fabin(colour " + std::to_string(f->color) + ", IQ " + std::to_string(f->iq) + ", " +
           std::to_string(f->extent) + mode(f->simd) + ")";
  if (auto* f = std::get_if<FaboutDsd>(&o))
    return "fabout(colour " + std::to_string(f->color) + ", OQ " + std::to_string(f->oq) + ", " +
           std::to_string(f->extent) + mode(f->simd) + ")";
  if (std::holds_alternative<Immediate>(o)) return "immediate";
  return "none";
}

}  // namespace wafersim::hw
