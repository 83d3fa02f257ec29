// The compute engine's memory-only operations run one typed loop per op code (ComputeEngine::run_memory_op): every
// op code, on a mem1d with a negative stride, a mem4d and an immediate or scalar operand, gives the bits of
// hw::apply_op applied element by element (the op's definition); an operand beyond the SRAM still throws.
#include <gtest/gtest.h>

#include <random>
#include <stdexcept>

#include "sc_tests/hw/single_pe.hpp"

using namespace wafersim;
using hw::MemDsd;
using hw::OpCode;

namespace {

constexpr std::uint32_t kN = 12;
constexpr std::uint32_t kBase = 1024;  // above the code reserve

MemDsd mem1d(std::uint32_t base, int bytes, std::int32_t stride, std::int32_t offset) {
  MemDsd m;
  m.base = base;
  m.elem_bytes = std::uint8_t(bytes);
  m.extent = {kN, 1, 1, 1};
  m.stride = {stride, 0, 0, 0};
  m.offset = offset;
  return m;
}
MemDsd mem4d(std::uint32_t base, int bytes) {  // 3 x 2 x 2, strides 2, 7, 1
  MemDsd m;
  m.base = base;
  m.elem_bytes = std::uint8_t(bytes);
  m.dims = 4;
  m.extent = {3, 2, 2, 1};
  m.stride = {2, 7, 1, 0};
  return m;
}

std::uint32_t read(hw::Sram& s, std::uint32_t addr, int bytes) {
  std::uint32_t v = 0;
  s.read(addr, &v, std::uint32_t(bytes));
  return v;
}

}  // namespace

TEST(CeTypedLoops, EveryOpCodeMatchesApplyOpElementByElement) {
  std::mt19937 rng(7);
  for (int code = 0; code <= int(OpCode::Xor16); ++code) {
    const OpCode c = OpCode(code);
    const hw::OpInfo& info = hw::op_info(c);
    const int db = hw::elem_bytes(info.dest), b0 = hw::elem_bytes(info.src0), b1 = hw::elem_bytes(info.src1);
    test::SinglePe pe;
    // Random contents (finite floats and fp16 values, so that every op is exercised on numbers).
    for (std::uint32_t a = kBase; a < kBase + 2048; a += 2) {
      const std::uint16_t h = std::uint16_t(rng() & 0x3fffu);
      pe.sram.write(a, &h, 2);
    }
    hw::DsdOp op;
    op.code = c;
    op.dest = mem1d(kBase + 1600, db, -1, int(kN) - 1);  // walks backwards
    op.src0 = mem1d(kBase, b0, 3, 1);
    if (info.num_srcs == 2) op.src1 = mem4d(kBase + 512, b1);
    if (info.has_scalar) op.scalar = hw::Immediate{b1 == 2 ? 0x3c00u : 0x3fc00000u};  // 1.0 and 1.5
    // The expected bits, element by element, from the memory before the op.
    std::vector<std::uint32_t> want(kN);
    const auto src = [&](const hw::Operand& o, std::uint32_t k, int bytes) -> std::uint32_t {
      if (auto* imm = std::get_if<hw::Immediate>(&o)) return bytes == 2 ? imm->bits & 0xffffu : imm->bits;
      if (auto* m = std::get_if<MemDsd>(&o)) return read(pe.sram, m->address(k), bytes);
      return 0;
    };
    for (std::uint32_t k = 0; k < kN; ++k)
      want[k] = hw::apply_op(c, src(op.src0, k, b0), src(op.src1, k, b1), src(op.scalar, k, b1));
    pe.ce.bind_local_task(3, [&](hw::TaskArg) { pe.ce.execute(op); });
    pe.ce.set_boot([] { return false; });
    pe.ce.activate(3);
    pe.run();
    const MemDsd& d = std::get<MemDsd>(op.dest);
    for (std::uint32_t k = 0; k < kN; ++k)
      ASSERT_EQ(read(pe.sram, d.address(k), db), want[k] & (db == 2 ? 0xffffu : 0xffffffffu))
          << info.name << " element " << k;
  }
}

TEST(CeTypedLoops, AnOperandBeyondTheSramThrows) {
  test::SinglePe pe;
  hw::DsdOp op;
  op.code = OpCode::Fadds;
  op.dest = mem1d(kBase, 4, 1, 0);
  op.src0 = mem1d(kBase, 4, 1, 0);
  op.src1 = mem1d(pe.sram.capacity() - 8, 4, 1, 0);  // elements 2.. lie beyond the end
  pe.ce.bind_local_task(3, [&](hw::TaskArg) { pe.ce.execute(op); });
  pe.ce.set_boot([] { return false; });
  pe.ce.activate(3);
  EXPECT_THROW(pe.run(), std::out_of_range);
}
