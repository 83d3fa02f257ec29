// DSD timing: SIMD widths per op (WSE-2 and WSE-3 presets), stride penalties, the SDK's bank rule, microthread
// rate of one element per cycle, and data-mode independence (timing-only SRAM gives the same cycles as functional
// SRAM). Cost of a main-thread op: loads * dsr_load + issue + chunk * ceil(n / width) (docs/firmware.md).
#include <gtest/gtest.h>

#include <bit>

#include "sc_tests/hw/open_program.hpp"
#include "sc_tests/hw/single_pe.hpp"

using namespace wafersim;
using csl::f16;
using test::SinglePe;

namespace {
struct Timed : test::OpenProgram {
  csl::Array<f16> h{this, "h", 1000}, hd{this, "hd", 1000};
  csl::Array<float> s{this, "s", 1000}, sd{this, "sd", 1000};
  std::function<void()> op;
  hw::Cycle cycles = 0;
  csl::LocalTask t{this, 1, [this] {
                     const hw::Cycle t0 = now();
                     op();
                     cycles = now() - t0;
                   }};
  void init() override { activate(t); }
};

hw::Cycle measure(std::function<void(Timed&)> op, hw::ArchParams arch = {}) {
  SinglePe pe(true, arch);
  Timed p;
  pe.load(p);
  p.op = [&] { op(p); };
  pe.run();
  return p.cycles;
}
using csl::mem1d;

// Most ops below read h twice (same banks): switch the bank rule off where a test is about widths or strides.
hw::ArchParams no_banks() {
  hw::ArchParams a;
  a.pe.bank_conflicts = false;
  return a;
}
// Cycles of a main-thread op with `loads` DSD operands over n elements at width w.
hw::Cycle cost(int loads, std::uint32_t n, int w, const hw::ArchParams& a = {}) {
  return hw::Cycle(loads * a.pe.dsr_load_cycles + a.pe.dsd_issue_cycles) +
         hw::Cycle(a.pe.simd_chunk_cycles) * ((n + w - 1) / w);
}
}  // namespace

TEST(SimdTiming, Wse2WidthsPlusLoadsAndIssue) {
  const hw::ArchParams a = no_banks();
  EXPECT_EQ(measure([](Timed& p) { p.fmach(mem1d(p.hd, {.extent = 100}), mem1d(p.h, {.extent = 100}), mem1d(p.h, {.extent = 100}), f16(2.0f)); }, a), cost(3, 100, 4));
  EXPECT_EQ(cost(3, 100, 4), 31u);  // 3 loads + 3 issue + 25 chunks
  EXPECT_EQ(measure([](Timed& p) { p.fmachs(mem1d(p.sd, {.extent = 100}), mem1d(p.s, {.extent = 100}), mem1d(p.h, {.extent = 100}), f16(2.0f)); }, a), cost(3, 100, 2));
  EXPECT_EQ(measure([](Timed& p) { p.fmacs(mem1d(p.sd, {.extent = 100}), mem1d(p.s, {.extent = 100}), mem1d(p.s, {.extent = 100}), 2.0f); }, a), cost(3, 100, 1));
  EXPECT_EQ(measure([](Timed& p) { p.faddh(mem1d(p.hd, {.extent = 100}), mem1d(p.h, {.extent = 100}), mem1d(p.h, {.extent = 100})); }, a), cost(3, 100, 4));
  EXPECT_EQ(measure([](Timed& p) { p.fadds(mem1d(p.sd, {.extent = 100}), mem1d(p.s, {.extent = 100}), mem1d(p.s, {.extent = 100})); }, a), cost(3, 100, 2));
  EXPECT_EQ(measure([](Timed& p) { p.fmaxh(mem1d(p.hd, {.extent = 100}), mem1d(p.h, {.extent = 100}), mem1d(p.h, {.extent = 100})); }, a), cost(3, 100, 1));
  EXPECT_EQ(measure([](Timed& p) { p.mov16(mem1d(p.hd, {.extent = 100}), mem1d(p.h, {.extent = 100})); }, a), cost(2, 100, 4));
  EXPECT_EQ(measure([](Timed& p) { p.mov32(mem1d(p.sd, {.extent = 100}), mem1d(p.s, {.extent = 100})); }, a), cost(2, 100, 2));
  EXPECT_EQ(measure([](Timed& p) { p.fh2s(mem1d(p.sd, {.extent = 100}), mem1d(p.h, {.extent = 100})); }, a), cost(2, 100, 1));
  EXPECT_EQ(measure([](Timed& p) { p.fmach(mem1d(p.hd, {.extent = 101}), mem1d(p.h, {.extent = 101}), mem1d(p.h, {.extent = 101}), f16(2.0f)); }, a), cost(3, 101, 4));
  EXPECT_EQ(measure([](Timed& p) { p.fmovs(mem1d(p.sd, {.extent = 0}), mem1d(p.s, {.extent = 0})); }, a), cost(2, 0, 2));
  // An immediate or a pointer to a scalar is not a DSD: no load.
  EXPECT_EQ(measure([](Timed& p) { p.fmovs(mem1d(p.sd, {.extent = 100}), 1.0f); }, a), cost(1, 100, 2));
}

TEST(SimdTiming, Wse3PresetDoublesTheFp16Width) {
  hw::ArchParams wse3 = no_banks();
  wse3.pe.simd.fmach = 8;
  wse3.pe.simd.fmachs = 4;
  EXPECT_EQ(measure([](Timed& p) { p.fmach(mem1d(p.hd, {.extent = 100}), mem1d(p.h, {.extent = 100}), mem1d(p.h, {.extent = 100}), f16(2.0f)); }, wse3), cost(3, 100, 8, wse3));
  EXPECT_EQ(measure([](Timed& p) { p.fmachs(mem1d(p.sd, {.extent = 100}), mem1d(p.s, {.extent = 100}), mem1d(p.h, {.extent = 100}), f16(2.0f)); }, wse3), cost(3, 100, 4, wse3));
  wse3.pe.dsd_issue_cycles = 5;
  wse3.pe.simd_chunk_cycles = 2;
  EXPECT_EQ(measure([](Timed& p) { p.fmach(mem1d(p.hd, {.extent = 100}), mem1d(p.h, {.extent = 100}), mem1d(p.h, {.extent = 100}), f16(2.0f)); }, wse3), 3u + 5u + 2u * 13u);
}

TEST(SimdTiming, StridePenalties) {
  auto fmach_src_stride = [](std::int32_t stride) {
    return measure([stride](Timed& p) {
      const std::int32_t off = stride < 0 ? -stride * 99 : 0;
      p.fmach(mem1d(p.hd, {.extent = 100}), mem1d(p.h, {.extent = 100, .stride = stride, .offset = off}),
              mem1d(p.h, {.extent = 100}), f16(2.0f));
    }, no_banks());
  };
  EXPECT_EQ(fmach_src_stride(1), cost(3, 100, 4));   // full width 4
  EXPECT_EQ(fmach_src_stride(0), cost(3, 100, 4));
  EXPECT_EQ(fmach_src_stride(2), cost(3, 100, 4));   // stride % 8 in {2,3,5,6}: full width
  EXPECT_EQ(fmach_src_stride(3), cost(3, 100, 4));
  EXPECT_EQ(fmach_src_stride(6), cost(3, 100, 4));
  EXPECT_EQ(fmach_src_stride(7), cost(3, 100, 2));   // stride % 8 in {1,7}: width 2
  EXPECT_EQ(fmach_src_stride(9), cost(3, 100, 2));
  EXPECT_EQ(fmach_src_stride(-1), cost(3, 100, 2));  // -1 % 8 == 7
  EXPECT_EQ(fmach_src_stride(4), cost(3, 100, 2));   // stride % 8 == 4: width 2 (SDK text ambiguous)
  EXPECT_EQ(fmach_src_stride(8), cost(3, 100, 1));  // stride % 8 == 0: width 1
  // A penalty never raises an op above its own width: fmacs stays at 1/cycle.
  EXPECT_EQ(measure([](Timed& p) { p.fmacs(mem1d(p.sd, {.extent = 100}), mem1d(p.s, {.extent = 100, .stride = 7}), mem1d(p.s, {.extent = 100}), 1.0f); }, no_banks()), cost(3, 100, 1));
  // The destination's stride counts too.
  EXPECT_EQ(measure([](Timed& p) { p.fmovh(mem1d(p.hd, {.extent = 100, .stride = 8}), mem1d(p.h, {.extent = 100})); }), cost(2, 100, 1));
}

TEST(MicrothreadTiming, OneWaveletPerCycleAfterTheIssueCycles) {
  SinglePe pe;
  Timed p;
  pe.load(p);
  p.op = [&] { p.fmovh(p.fabout({.extent = 10, .color = 3, .output_queue = 2}), mem1d(p.h, {.extent = 10}), {.async = true}); };
  std::vector<hw::Cycle> sent;
  pe.step(0);
  for (hw::Cycle t = 1; t < 40; ++t) {
    // the router drains one word per cycle
    if (!pe.queues.oq(2).empty()) {
      pe.queues.oq(2).pop();
      sent.push_back(t);
    }
    pe.step(t);
  }
  // task picked at 0, body at 2 (switch), op issued at 2, first element at 2 + issue (3), one per cycle; the
  // router above pops each word the cycle after it was pushed
  const hw::Cycle first = hw::Cycle(pe.arch.pe.task_switch_cycles + pe.arch.pe.dsd_issue_cycles) + 1;
  ASSERT_EQ(sent.size(), 10u);
  EXPECT_EQ(sent.front(), first);
  EXPECT_EQ(sent.back(), first + 9);
  EXPECT_EQ(p.cycles, 0u);  // issuing an async op costs the main thread nothing
}

namespace {
// A program mixing data tasks, memory ops and a microthread, for the data-mode comparison.
struct Mixed : test::OpenProgram {
  csl::Array<float> acc{this, "acc", 16};
  csl::Array<f16> h{this, "h", 64};
  int received = 0;
  csl::LocalTask done{this, 10, [this] { fmach(h, h, h, f16(1.5f)); }};
  csl::DataTask rx{this, 4, [this](hw::TaskArg) {
                     ++received;
                     fadds(acc, acc, acc);
                     if (received == 3)
                       fmovs(fabout({.extent = 16, .color = 5, .output_queue = 2}), acc, {.async = true, .activate = done});
                   }, 2};
};
std::vector<std::pair<hw::Cycle, hw::Cycle>> trace(bool functional) {
  SinglePe pe(functional);
  Mixed p;
  pe.load(p);
  std::vector<std::pair<hw::Cycle, hw::Cycle>> steps;
  for (hw::Cycle t = 0; t < 200; ++t) {
    if (t == 5 || t == 6 || t == 30) pe.push(2, 4, 0x3f800000u);
    if (t % 3 == 0 && !pe.queues.oq(2).empty()) pe.queues.oq(2).pop();
    steps.emplace_back(t, pe.step(t));
  }
  steps.emplace_back(pe.ce.stats().main_busy_cycles, pe.ce.stats().microthread_stall_cycles);
  return steps;
}
}  // namespace

TEST(DataMode, TimingOnlySramGivesTheSameCycles) {
  auto functional = trace(true), timing = trace(false);
  EXPECT_EQ(functional, timing);
  EXPECT_GT(functional.back().first, 50u);  // the comparison covered real work
}

TEST(SimdTiming, BankConflictsHalveTheWidthOfSourcesInTheSameBankPair) {
  // SDK rule: 8 banks, 16-bit interleave, two reads per cycle only if bank1 % 4 != bank2 % 4. src0 = h[0..100),
  // src1 = h[k..k+100): word distance k; a conflict iff k % 4 == 0 (the SDK's advice: byte offset 4 mod 8).
  auto with_offset = [&](std::int32_t k, const hw::ArchParams& a) {
    return measure([k](Timed& p) {
      p.faddh(mem1d(p.hd, {.extent = 100}), mem1d(p.h, {.extent = 100}), mem1d(p.h, {.extent = 100, .offset = k}));
    }, a);
  };
  const hw::ArchParams banks;  // on by default
  EXPECT_TRUE(banks.pe.bank_conflicts);
  for (int k : {1, 2, 3, 5, 6, 7}) EXPECT_EQ(with_offset(k, banks), cost(3, 100, 4)) << k;
  for (int k : {0, 4, 8, 12}) EXPECT_EQ(with_offset(k, banks), cost(3, 100, 2)) << k;  // two cycles per 4 elements
  EXPECT_EQ(with_offset(0, no_banks()), cost(3, 100, 4));
  // The scalar operand of an FMAC is not a vector source: only src0 and src1 count.
  EXPECT_EQ(measure([](Timed& p) { p.fmach(mem1d(p.hd, {.extent = 100}), mem1d(p.h, {.extent = 100}), mem1d(p.h, {.extent = 100, .offset = 2}), f16(1.0f)); }, banks), cost(3, 100, 4));
  EXPECT_EQ(measure([](Timed& p) { p.fmach(mem1d(p.hd, {.extent = 100}), mem1d(p.h, {.extent = 100}), mem1d(p.h, {.extent = 100, .offset = 4}), f16(1.0f)); }, banks), cost(3, 100, 2));
  // A width-1 op cannot lose width.
  EXPECT_EQ(measure([](Timed& p) { p.fmaxh(mem1d(p.hd, {.extent = 100}), mem1d(p.h, {.extent = 100}), mem1d(p.h, {.extent = 100})); }, banks), cost(3, 100, 1));
}
