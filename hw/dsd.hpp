// Data structure descriptors (DSDs) and DSD operations of the compute engine: memory vectors (mem1d, mem4d), fabric
// input/output streams (fabin, fabout), immediates, and the op codes with their element semantics and SIMD width.
// Fidelity: element-exact results (fp16 rounded per operation), throughput from SimdParams with the SDK's stride
// penalties and bank rule (ComputeEngine::op_cycles). A memory operand may be marked as held in a DSD register
// (csl::Dsr): the operation does not pay its load. Not modelled: DSRs as a finite register file, FIFOs.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <variant>

#include "hw/arch_params.hpp"
#include "hw/wavelet.hpp"

namespace wafersim::hw {

// A vector in this PE's SRAM. Element k of a mem1d is at base + (offset + k*stride[0]) * elem_bytes. A mem4d
// walks dimension 0 fastest: element (i0,i1,i2,i3) is at base + (offset + sum i_d*stride[d]) * elem_bytes.
// Strides are in elements and may be 0 or negative. `scalar_ref` marks a pointer-to-scalar operand (CSL `&x`):
// stride 0, and its length is that of the other operands (a destination scalar accumulates a reduction).
struct MemDsd {
  std::uint32_t base = 0;  // byte address
  std::uint8_t elem_bytes = 4;
  std::uint8_t dims = 1;
  std::array<std::uint32_t, 4> extent{0, 1, 1, 1};
  std::array<std::int32_t, 4> stride{1, 0, 0, 0};
  std::int32_t offset = 0;
  bool scalar_ref = false;
  bool in_dsr = false;  // already loaded into a DSD register (csl::Dsr): no load cost

  std::uint32_t length() const { return extent[0] * extent[1] * extent[2] * extent[3]; }
  std::uint32_t address(std::uint32_t k) const {
    if (k == 0) return static_cast<std::uint32_t>(std::int64_t(base) + std::int64_t(offset) * elem_bytes);
    std::int64_t e = offset;
    for (int d = 0; d < 4; ++d) {
      e += std::int64_t(k % extent[d]) * stride[d];
      k /= extent[d];
    }
    return static_cast<std::uint32_t>(std::int64_t(base) + e * elem_bytes);
  }
};

// SDK simd_mode of a fabric DSD in a 16-bit operation. Off: one value per wavelet (low half). Simd32: two values
// per wavelet, element 2k in the low half and 2k+1 in the high half (an odd last element leaves the high half 0).
// Simd64: packed the same way; an operation reading it moves only while two wavelets are ready (or the last one
// is), one wavelet per cycle (the ramp's rate; the SDK moves four values per step, at the same link rate).
// `extent` counts elements (values), not wavelets.
enum class SimdMode : std::uint8_t { Off, Simd32, Simd64 };

// A stream of `extent` elements arriving on `color` in input queue `iq` (the queue is bound to the colour).
// 16-bit operations use the low half of each payload, or both halves with a simd_mode.
struct FabinDsd {
  Color color = 0;
  SimdMode simd = SimdMode::Off;
  int iq = 0;
  std::uint32_t extent = 0;
  bool operator==(const FabinDsd&) const = default;
};

// A stream of `extent` wavelets sent on `color` through output queue `oq`. `control`: every wavelet is a control
// wavelet. `advance_switch`: after the last wavelet, one control wavelet with a single ADV command (ce_ignore,
// no entrypoint) follows, which advances the switches of the colour along its path (see docs/firmware.md).
// `stamp_index`: 16-bit elements go out as (index_base + k) << 16 | data (not with a simd_mode).
struct FaboutDsd {
  Color color = 0;
  SimdMode simd = SimdMode::Off;
  int oq = 0;
  std::uint32_t extent = 0;
  bool control = false;
  bool advance_switch = false;
  bool stamp_index = false;
  std::uint16_t index_base = 0;
  bool operator==(const FaboutDsd&) const = default;
};

// An immediate scalar operand: bits in the operation's element format (f32, f16 in the low half, u16, u32).
struct Immediate {
  std::uint32_t bits = 0;
};

using Operand = std::variant<std::monostate, MemDsd, FabinDsd, FaboutDsd, Immediate>;

inline bool is_fabric(const Operand& o) {
  return std::holds_alternative<FabinDsd>(o) || std::holds_alternative<FaboutDsd>(o);
}

// DSD operations. dest = f(src0, src1, scalar); see op_info().
enum class OpCode : std::uint8_t {
  Fmach,   // f16 dest = src0 + src1 * scalar (each op rounded to f16)
  Fmachs,  // f32 dest = f32 src0 + f16 src1 * f16 scalar (exact product, f32 accumulate)
  Fmacs,   // f32 dest = src0 + src1 * scalar (each op rounded to f32)
  Faddh, Fadds, Fsubh, Fsubs, Fmulh, Fmuls, Fmaxh, Fmaxs,  // dest = src0 op src1
  Fmovh, Fmovs, Mov16, Mov32,                              // dest = src0
  Fnegh, Fnegs,                                            // dest = -src0
  Fh2s, Fs2h,                                              // conversions f16 -> f32, f32 -> f16
  Add16, Sub16, And16, Or16, Xor16,                        // u16 dest = src0 op src1 (wrapping)
};

enum class ElemType : std::uint8_t { F16, F32, U16, U32 };
inline int elem_bytes(ElemType t) { return (t == ElemType::F16 || t == ElemType::U16) ? 2 : 4; }

struct OpInfo {
  const char* name;
  int num_srcs;  // 1 or 2 vector/scalar sources (+1 scalar for the FMACs)
  bool has_scalar;
  ElemType dest, src0, src1;  // src1 also types the scalar of the FMACs
};
const OpInfo& op_info(OpCode op);
// Elements per cycle of `op` on a memory-only operation with unit strides.
int simd_width(OpCode op, const SimdParams& simd);
// Width cap of a memory operand with element stride s (SDK "SIMD mode" appendix): 0, 1 and s%8 in {2,3,5,6} run
// at full width; s%8 in {1,7} (s != 1) at 2; s%8 == 4 at 2 (the SDK's text is ambiguous between 2 and 4); s%8 == 0
// (s != 0) at 1. A mem4d uses the stride of its innermost dimension with extent > 1.
int stride_width_cap(std::int32_t stride);
int stride_width_cap(const MemDsd& d);

// Priority of a microthread operation (CSL `.priority`: low, the default, medium, high). The main thread's own
// operations rank between medium and low. Only pe.datapath_contention makes it matter (docs/firmware.md).
enum class UtPriority : std::uint8_t { Low, Medium, High };

// Completion actions of an asynchronous operation (CSL `.async = true, .activate = t, .unblock = t`).
struct OpOptions {
  bool async = false;
  int activate = -1;  // task ID activated on completion (-1: none)
  int unblock = -1;   // task ID (= colour for data tasks on WSE-2) unblocked on completion
  int microthread = -1;  // WSE-3 explicit microthread ID (.ut_id); -1: from the queues (WSE-2 rule)
  UtPriority priority = UtPriority::Low;  // microthread priority (WSE-2: on the async op; WSE-3: on the fabin DSD)
};

struct DsdOp {
  OpCode code = OpCode::Fmovs;
  Operand dest{}, src0{}, src1{}, scalar{};  // initialisers: designated-initializer ops may omit any of them
  OpOptions options{};
};

// Element function: the result bits of `op` given the source bits (in each operand's element format).
std::uint32_t apply_op(OpCode op, std::uint32_t src0, std::uint32_t src1, std::uint32_t scalar);

std::string describe(const Operand& o);

}  // namespace wafersim::hw
