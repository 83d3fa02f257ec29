#include "hw/dsd.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include "hw/dsd_ops.hpp"

namespace wafersim::hw {

const OpInfo& op_info(OpCode op) { return ops::info(op); }

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
  return ops::dispatch(op, [&]<OpCode C>() { return ops::elem<C>(a, b, c); });
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
