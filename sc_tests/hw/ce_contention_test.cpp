// Datapath contention (pe.datapath_contention, docs/firmware.md): one element operation per cycle shared by the
// main thread's memory operations and the microthreads, served high > medium > main thread > low, round-robin
// among equals. Each program runs with contention off (today's timing, asserted too) and on; the expected cycles
// are derived by hand from the WSE-2 defaults (task switch 2, issue 3, one DSR load per memory operand).
#include <gtest/gtest.h>

#include <map>

#include "sc_tests/hw/open_program.hpp"
#include "sc_tests/hw/single_pe.hpp"

using namespace wafersim;
using csl::f16;
using csl::mem1d;
using test::SinglePe;

namespace {

struct Streams : test::OpenProgram {
  csl::Array<f16> h{this, "h", 200}, hd{this, "hd", 200};
  std::function<void()> a_body, b_body;
  hw::Cycle b_cycles = 0;
  csl::LocalTask b{this, 2, [this] {
                     const hw::Cycle t0 = now();
                     b_body();
                     b_cycles = now() - t0;
                   }};
  csl::LocalTask a{this, 1, [this] { a_body(); }};
  void init() override { activate(a); }
  // An async send of n elements from h through output queue oq (its microthread) on colour oq.
  void send(int oq, std::uint32_t n, hw::UtPriority prio) {
    fmovh(fabout({.extent = n, .color = hw::Color(oq), .output_queue = oq}), mem1d(h, {.extent = n}),
          {.async = true, .priority = prio});
  }
};

struct Result {
  std::map<int, std::vector<hw::Cycle>> sent;  // per output queue: the cycles its wavelets were pushed
  hw::ComputeEngine::Stats stats;
  hw::Cycle b_cycles = 0;
};

// Steps every cycle; the router pops each output queue after the step, so a word is recorded at its push cycle.
Result drive(bool contention, const std::function<void(Streams&)>& setup) {
  hw::ArchParams arch;
  arch.pe.datapath_contention = contention;
  SinglePe pe(true, arch);
  Streams p;
  pe.load(p);
  setup(p);
  Result r;
  for (hw::Cycle t = 0; t < 300; ++t) {
    pe.step(t);
    for (int oq : {2, 3})
      if (!pe.queues.oq(oq).empty()) {
        pe.queues.oq(oq).pop();
        r.sent[oq].push_back(t);
      }
  }
  EXPECT_FALSE(pe.ce.busy());
  r.stats = pe.ce.stats();
  r.b_cycles = p.b_cycles;
  return r;
}

// First element of an async op issued at the task body's start: pick 0 + switch 2 + issue 3.
constexpr hw::Cycle kFirst = 5;

}  // namespace

// (a) Two low-priority streams of n: alone each runs kFirst .. kFirst + n - 1; together they alternate (round
// robin, microthread 2 first), so the last element goes at kFirst + 2n - 1.
TEST(DatapathContention, TwoEqualStreamsShareTheDatapathRoundRobin) {
  const std::uint32_t n = 10;
  auto setup = [&](Streams& p) {
    p.a_body = [&p, n] {
      p.send(2, n, hw::UtPriority::Low);
      p.send(3, n, hw::UtPriority::Low);
    };
  };
  const Result off = drive(false, setup), on = drive(true, setup);
  for (int oq : {2, 3}) {
    ASSERT_EQ(off.sent.at(oq).size(), n);
    EXPECT_EQ(off.sent.at(oq).front(), kFirst);
    EXPECT_EQ(off.sent.at(oq).back(), kFirst + n - 1);
    ASSERT_EQ(on.sent.at(oq).size(), n);
  }
  EXPECT_EQ(on.sent.at(2).front(), kFirst);
  EXPECT_EQ(on.sent.at(3).front(), kFirst + 1);
  EXPECT_EQ(on.sent.at(2).back(), kFirst + 2 * n - 2);
  EXPECT_EQ(on.sent.at(3).back(), kFirst + 2 * n - 1);
  for (std::uint32_t k = 1; k < n; ++k) EXPECT_EQ(on.sent.at(3)[k] - on.sent.at(3)[k - 1], 2u);
}

// (b) A high-priority stream runs as if alone; the low one waits until it is done.
TEST(DatapathContention, HighPriorityMicrothreadGoesFirst) {
  const std::uint32_t n = 10;
  auto setup = [&](Streams& p) {
    p.a_body = [&p, n] {
      p.send(2, n, hw::UtPriority::Low);
      p.send(3, n, hw::UtPriority::High);
    };
  };
  const Result off = drive(false, setup), on = drive(true, setup);
  EXPECT_EQ(off.sent.at(2).back(), kFirst + n - 1);
  EXPECT_EQ(off.sent.at(3).back(), kFirst + n - 1);
  EXPECT_EQ(on.sent.at(3).front(), kFirst);
  EXPECT_EQ(on.sent.at(3).back(), kFirst + n - 1);
  EXPECT_EQ(on.sent.at(2).front(), kFirst + n);
  EXPECT_EQ(on.sent.at(2).back(), kFirst + 2 * n - 1);
  // Medium ranks above low too.
  auto medium = [&](Streams& p) {
    p.a_body = [&p, n] {
      p.send(2, n, hw::UtPriority::Medium);
      p.send(3, n, hw::UtPriority::Low);
    };
  };
  const Result m = drive(true, medium);
  EXPECT_EQ(m.sent.at(2).back(), kFirst + n - 1);
  EXPECT_EQ(m.sent.at(3).front(), kFirst + n);
}

// (c) Task a issues a stream of 30 and charges 10 cycles of scalar work (ends at 12); task b, picked at 12, runs
// a memory fmovh of 40 fp16 elements at 14: 2 loads + issue 3 + 40 / 4 = 15 cycles, [14, 29). A low stream stops
// for those 15 cycles; a high one keeps going and pushes b's end by one cycle per element it moves meanwhile.
TEST(DatapathContention, MainThreadOperationAgainstLowAndHighMicrothreads) {
  const std::uint32_t n = 30;
  const hw::Cycle op = 2 * 1 + 3 + 40 / 4;
  ASSERT_EQ(op, 15u);
  auto program = [&](hw::UtPriority prio) {
    return [&, prio](Streams& p) {
      p.a_body = [&p, n, prio] {
        p.send(2, n, prio);
        p.charge(10);
        p.activate(p.b);
      };
      p.b_body = [&p] { p.fmovh(mem1d(p.hd, {.extent = 40}), mem1d(p.h, {.extent = 40})); };
    };
  };
  // Off: the stream runs 5..34 whatever its priority; a busy 0..12, b busy 12..29.
  const Result off = drive(false, program(hw::UtPriority::Low));
  EXPECT_EQ(off.sent.at(2).front(), kFirst);
  EXPECT_EQ(off.sent.at(2).back(), kFirst + n - 1);
  EXPECT_EQ(off.b_cycles, op);
  EXPECT_EQ(off.stats.main_busy_cycles, 12u + 2 + op);
  EXPECT_EQ(drive(false, program(hw::UtPriority::High)).stats.main_busy_cycles, 12u + 2 + op);

  // Low: 9 elements at 5..13, none during [14, 29), the other 21 at 29..49: the op's 15 cycles later.
  const Result low = drive(true, program(hw::UtPriority::Low));
  ASSERT_EQ(low.sent.at(2).size(), n);
  EXPECT_EQ(low.sent.at(2)[8], 13u);
  EXPECT_EQ(low.sent.at(2)[9], 29u);
  EXPECT_EQ(low.sent.at(2).back(), kFirst + n - 1 + op);
  EXPECT_EQ(low.stats.main_busy_cycles, 12u + 2 + op);

  // High: the stream is untouched (5..34); its 21 elements from 14 on each push b's end: 29 + 21 = 50.
  const Result high = drive(true, program(hw::UtPriority::High));
  EXPECT_EQ(high.sent.at(2).back(), kFirst + n - 1);
  EXPECT_EQ(high.stats.main_busy_cycles, 12u + 2 + op + 21);
  EXPECT_EQ(high.b_cycles, op);  // the body's own cursor does not see the delay; its end does
}
