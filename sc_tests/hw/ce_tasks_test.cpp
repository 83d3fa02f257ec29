// Task picker semantics: activation, blocking, priorities, run to completion, data tasks and their wavelet argument,
// blocked colours back-pressuring, control tasks, microthread completion actions, stalls, SRAM overflow.
#include <gtest/gtest.h>

#include <bit>
#include <sstream>

#include "common/error.hpp"
#include "sc_tests/hw/open_program.hpp"
#include "sc_tests/hw/single_pe.hpp"

using namespace wafersim;
using csl::f16;
using hw::Wavelet;
using test::SinglePe;

namespace {
std::string wait_of(const hw::ComputeEngine& ce) {
  std::ostringstream os;
  ce.describe_wait(os);
  return os.str();
}
std::uint32_t bits(float f) { return std::bit_cast<std::uint32_t>(f); }

// Three local tasks that log their order and start cycles.
struct Three : test::OpenProgram {
  std::vector<int> order;
  std::vector<hw::Cycle> starts;
  std::function<void(int)> extra = [](int) {};
  csl::LocalTask t3{this, 3, [this] { log(3); }}, t5{this, 5, [this] { log(5); }}, t7{this, 7, [this] { log(7); }};
  void log(int id) {
    order.push_back(id);
    starts.push_back(now());
    extra(id);
  }
};
}  // namespace

TEST(TaskPicker, LowestIdRunsFirstAmongEqualPriority) {
  SinglePe pe;
  Three p;
  pe.load(p);
  p.activate(p.t7);
  p.activate(p.t5);
  p.activate(p.t3);
  pe.run();
  EXPECT_EQ(p.order, (std::vector<int>{3, 5, 7}));
}

TEST(TaskPicker, HighPriorityRunsBeforeLowerIds) {
  SinglePe pe;
  Three p;
  pe.load(p);
  p.set_priority(p.t7, csl::Priority::High);
  p.activate(p.t3);
  p.activate(p.t5);
  p.activate(p.t7);
  pe.run();
  EXPECT_EQ(p.order, (std::vector<int>{7, 3, 5}));
}

TEST(TaskPicker, EachTaskStartsAfterTheSwitchAndRunsToCompletion) {
  // t5 activates t3 (high priority) halfway: t3 does not preempt t5; it starts when t5 ends.
  SinglePe pe;
  Three p;
  csl::Array<f16>* v = nullptr;
  struct WithWork : Three {
    csl::Array<f16> v{this, "v", 100};
  } q;
  pe.load(q);
  v = &q.v;
  q.set_priority(q.t3, csl::Priority::High);
  q.extra = [&](int id) {
    if (id == 5) {
      q.activate(q.t3);
      q.fmach(*v, *v, *v, f16(1.0f));  // 3 loads + 3 issue + 100 fp16 at 2/cycle (v twice: a bank conflict) = 56
    }
  };
  q.activate(q.t5);
  pe.run();
  ASSERT_EQ(q.order, (std::vector<int>{5, 3}));
  const int sw = pe.arch.pe.task_switch_cycles;
  EXPECT_EQ(q.starts[0], hw::Cycle(sw));             // picked at 0, body at 0 + switch
  EXPECT_EQ(q.starts[1], hw::Cycle(sw + 56 + sw));   // picked when t5 ends (2 + 56), body after the switch
  EXPECT_EQ(pe.ce.stats().main_busy_cycles, hw::Cycle(sw + 56 + sw));
}

TEST(TaskPicker, BlockedTaskWaitsForUnblock) {
  SinglePe pe;
  Three p;
  pe.load(p);
  p.block(p.t3);
  p.activate(p.t3);
  pe.run();
  EXPECT_TRUE(p.order.empty());
  EXPECT_FALSE(pe.ce.busy());  // activated but blocked: the PE is idle, not busy
  EXPECT_NE(wait_of(pe.ce).find("activated but blocked"), std::string::npos) << wait_of(pe.ce);
  p.extra = [&](int id) {
    if (id == 5) p.unblock(p.t3);
  };
  p.activate(p.t5);
  pe.step(pe.now + 1);
  pe.run();
  EXPECT_EQ(p.order, (std::vector<int>{5, 3}));
}

TEST(TaskPicker, JoinIdiomTaskNeedsActivationAndUnblock) {
  SinglePe pe;
  Three p;
  pe.load(p);
  p.block(p.t7);
  p.extra = [&](int id) {
    if (id == 3) p.activate(p.t7);  // event A
    if (id == 5) p.unblock(p.t7);   // event B
  };
  p.activate(p.t3);
  pe.run();
  EXPECT_EQ(p.order, (std::vector<int>{3}));
  p.activate(p.t5);
  pe.step(pe.now + 1);
  pe.run();
  EXPECT_EQ(p.order, (std::vector<int>{3, 5, 7}));
}

namespace {
struct Receiver : test::OpenProgram {
  std::vector<hw::TaskArg> args;
  csl::DataTask rx{this, 4, [this](hw::TaskArg a) { args.push_back(a); }, 2};
  int ctl_runs = 0;
  std::uint16_t ctl_data = 0;
  csl::ControlTask ctl{this, 40, [this](hw::TaskArg a) {
                         ++ctl_runs;
                         ctl_data = a.data16();
                       }};
  csl::LocalTask go{this, 9, [this] { unblock(4); }};
  void init() override { export_function("go", [this] { activate(go); }); }
};
}  // namespace

TEST(DataTask, WaveletActivatesItsColourTaskAndIsTheArgument) {
  SinglePe pe;
  Receiver p;
  pe.load(p);
  EXPECT_EQ(pe.queues.input_queue_of(4), 2);
  pe.push(2, 4, bits(3.5f));
  pe.push(2, 4, (7u << 16) | f16(-1.25f).bits);
  pe.run();
  ASSERT_EQ(p.args.size(), 2u);
  EXPECT_EQ(p.args[0].f32(), 3.5f);
  EXPECT_EQ(p.args[1].index(), 7);
  EXPECT_EQ(p.args[1].f16(), -1.25f);
  EXPECT_TRUE(pe.queues.iq(2).empty());
  EXPECT_EQ(pe.ce.stats().tasks_run, 2u);
}

TEST(DataTask, BlockedColourLeavesWaveletsInTheQueueUntilUnblocked) {
  SinglePe pe;
  Receiver p;
  pe.load(p);
  p.block(4);
  pe.push(2, 4, 1);
  pe.push(2, 4, 2);
  pe.run();
  EXPECT_TRUE(p.args.empty());
  EXPECT_EQ(pe.queues.iq(2).size(), 2);  // the router sees a full-ish queue: back-pressure
  EXPECT_TRUE(pe.ce.busy());             // unconsumed wavelets are pending work (deadlock if never unblocked)
  EXPECT_NE(wait_of(pe.ce).find("colour blocked"), std::string::npos) << wait_of(pe.ce);
  p.call("go");  // host launch: activates `go`, which unblocks colour 4
  pe.step(pe.now + 1);
  pe.run();
  ASSERT_EQ(p.args.size(), 2u);
  EXPECT_EQ(p.args[1].u32(), 2u);
}

TEST(ControlTask, ControlWaveletActivatesItsEntrypointWithData) {
  SinglePe pe;
  Receiver p;
  pe.load(p);
  pe.push(2, 4, hw::ControlPayload::single(hw::SwitchCmd::Nop, false, 40, 0xbeef), true);
  pe.run();
  EXPECT_EQ(p.ctl_runs, 1);
  EXPECT_EQ(p.ctl_data, 0xbeef);
  EXPECT_TRUE(p.args.empty());  // the control wavelet is not a data-task argument
}

TEST(ControlTask, BlockedColourStopsControlTasksToo) {
  SinglePe pe;
  Receiver p;
  pe.load(p);
  p.block(4);
  pe.push(2, 4, hw::ControlPayload::single(hw::SwitchCmd::Nop, false, 40, 1), true);
  pe.run();
  EXPECT_EQ(p.ctl_runs, 0);
  EXPECT_EQ(pe.queues.iq(2).size(), 1);
}

namespace {
struct Accumulate : test::OpenProgram {
  static constexpr std::uint32_t n = 4;
  csl::Array<float> acc{this, "acc", n};
  int done_runs = 0;
  hw::Cycle done_at = 0;
  csl::LocalTask done{this, 10, [this] {
                        ++done_runs;
                        done_at = now();
                      }};
  hw::FabinDsd in = fabin({.extent = n, .color = 5, .input_queue = 3});  // binds IQ 3 to colour 5 at load
  csl::LocalTask go{this, 11, [this] { fadds(acc, acc, in, {.async = true, .activate = done, .unblock = 12}); }};
  csl::LocalTask blocked{this, 12, [] {}};
  void init() override {
    block(blocked);
    activate(blocked);
    activate(go);
  }
};
}  // namespace

TEST(Microthread, CompletionActivatesAndUnblocks) {
  SinglePe pe;
  Accumulate p;
  pe.load(p);
  p.acc.write(std::vector<float>{1, 2, 3, 4});
  for (float v : {10.f, 20.f, 30.f, 40.f}) pe.push(3, 5, bits(v));
  pe.run();
  EXPECT_EQ(p.acc.read(), (std::vector<float>{11, 22, 33, 44}));
  EXPECT_EQ(p.done_runs, 1);
  EXPECT_FALSE(pe.ce.blocked(12));
  EXPECT_EQ(pe.ce.stats().tasks_run, 3u);  // go, done (ID 10) and the unblocked task 12 (activated earlier)
  // go picked at 0, body at 2, issue at 2; elements at 5,6,7,8 (3 issue cycles); done picked at 8, its body at 10
  EXPECT_EQ(p.done_at, 10u);
}

TEST(Microthread, StallsOnAnEmptyInputQueue) {
  SinglePe pe;
  Accumulate p;
  pe.load(p);
  pe.push(3, 5, bits(1.0f));
  pe.push(3, 5, bits(2.0f));
  pe.run();
  EXPECT_EQ(pe.next, hw::kNever);  // sleeps until the queue changes
  EXPECT_TRUE(pe.ce.busy());
  EXPECT_EQ(p.done_runs, 0);
  EXPECT_NE(wait_of(pe.ce).find("microthread 3 fadds 2/4 waits on IQ 3 empty (colour 5)"), std::string::npos)
      << wait_of(pe.ce);
  pe.push(3, 5, bits(3.0f));
  pe.push(3, 5, bits(4.0f));
  pe.step(20);  // the fabric steps the CE when a wavelet arrives
  pe.run();
  EXPECT_EQ(p.done_runs, 1);
  EXPECT_EQ(p.acc.read(), (std::vector<float>{1, 2, 3, 4}));
  // elements 3 and 4 at cycles 20 and 21; done picked at 21, body at 23
  EXPECT_EQ(p.done_at, 23u);
  EXPECT_EQ(pe.ce.stats().microthread_stall_cycles, 13u);  // elements 1, 2 at 5, 6; stalled cycles 7..19
}

namespace {
struct Sender : test::OpenProgram {
  csl::Array<float> v{this, "v", 5};
  csl::Array<f16> h{this, "h", 3};
  int done_runs = 0;
  csl::LocalTask done{this, 10, [this] { ++done_runs; }};
  std::function<void()> body;
  csl::LocalTask go{this, 11, [this] { body(); }};
  void init() override { activate(go); }
};
}  // namespace

TEST(Microthread, StallsOnAFullOutputQueueAndResumesWhenTheRouterTakesAWord) {
  SinglePe pe;
  Sender p;
  pe.load(p);
  p.v.write(std::vector<float>{1, 2, 3, 4, 5});
  p.body = [&] { p.fmovs(p.fabout({.extent = 5, .color = 6, .output_queue = 0}), p.v, {.async = true, .activate = p.done}); };
  pe.run();
  ASSERT_EQ(pe.queues.oq(0).capacity(), 2);
  EXPECT_EQ(pe.queues.oq(0).size(), 2);
  EXPECT_EQ(pe.next, hw::kNever);
  EXPECT_NE(wait_of(pe.ce).find("waits on OQ 0 full (colour 6)"), std::string::npos) << wait_of(pe.ce);
  std::vector<float> out;
  for (hw::Cycle t = 10; out.size() < 5; ++t) {
    if (!pe.queues.oq(0).empty()) {
      Wavelet w = pe.queues.oq(0).pop();
      EXPECT_EQ(w.color, 6);
      EXPECT_FALSE(w.control);
      out.push_back(std::bit_cast<float>(w.payload));
    }
    pe.step(t);
    ASSERT_LT(t, 100u);
  }
  pe.run();
  EXPECT_EQ(out, (std::vector<float>{1, 2, 3, 4, 5}));
  EXPECT_EQ(p.done_runs, 1);
}

TEST(Microthread, SecondOpOnTheSameQueueWaitsForTheFirst) {
  SinglePe pe;
  Sender p;
  pe.load(p);
  p.v.write(std::vector<float>{1, 2, 3, 4, 5});
  p.body = [&] {
    p.fmovs(p.fabout({.extent = 3, .color = 6, .output_queue = 2}), csl::mem1d(p.v, {.extent = 3}), {.async = true});
    p.fmovs(p.fabout({.extent = 2, .color = 6, .output_queue = 2}), csl::mem1d(p.v, {.extent = 2, .offset = 3}),
            {.async = true, .activate = p.done});
  };
  pe.run();
  std::vector<float> out;
  while (!pe.queues.oq(2).empty()) out.push_back(std::bit_cast<float>(pe.queues.oq(2).pop().payload));
  EXPECT_EQ(out, (std::vector<float>{1, 2, 3, 4, 5}));
  EXPECT_EQ(p.done_runs, 1);
  EXPECT_EQ(pe.ce.stats().async_ops, 2u);
}

TEST(Microthread, AdvanceSwitchAndIndexStamping) {
  SinglePe pe;
  Sender p;
  pe.load(p);
  p.h.write(std::vector<f16>{f16(1.0f), f16(2.0f), f16(3.0f)});
  p.body = [&] {
    p.fmovh(p.fabout({.extent = 3, .color = 7, .output_queue = 2, .advance_switch = true, .index_base = 10}), p.h,
            {.async = true});
  };
  pe.run();
  ASSERT_EQ(pe.queues.oq(2).size(), 4);
  for (int k = 0; k < 3; ++k) {
    Wavelet w = pe.queues.oq(2).pop();
    EXPECT_FALSE(w.control);
    EXPECT_EQ(w.index(), 10 + k);
    EXPECT_EQ(f16::from_bits(w.data16()).to_float(), float(k + 1));
  }
  Wavelet adv = pe.queues.oq(2).pop();
  EXPECT_TRUE(adv.control);
  EXPECT_EQ(adv.color, 7);
  EXPECT_EQ(hw::ControlPayload::decode(adv.payload).cmd[0], hw::SwitchCmd::Advance);
}

TEST(Microthread, SendControlPushesAControlWavelet) {
  SinglePe pe;
  Sender p;
  pe.load(p);
  const std::uint32_t word = hw::ControlPayload::single(hw::SwitchCmd::Reset, false, 33, 5);
  p.body = [&] { p.send_control(8, 1, word, {.activate = p.done}); };
  pe.run();
  ASSERT_EQ(pe.queues.oq(1).size(), 1);
  EXPECT_EQ(pe.queues.oq(1).front(), (Wavelet{word, 8, true}));
  EXPECT_EQ(p.done_runs, 1);
}

TEST(Microthread, BlockingFabricOperationInAVoidBodyIsRejected) {
  SinglePe pe;
  Sender p;
  pe.load(p);
  p.body = [&] { p.fmovs(p.fabout({.extent = 5, .color = 6, .output_queue = 0}), p.v); };
  try {
    pe.run();
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("fmovs: a blocking fabric operation"), std::string::npos) << m;
    EXPECT_NE(m.find("co_await"), std::string::npos) << m;
    EXPECT_NE(m.find(".async = true"), std::string::npos) << m;
  }
}

TEST(Sram, OverflowNamesThePeProgramSymbolAndBytes) {
  struct Huge : test::OpenProgram {
    csl::Array<float> small{this, "x", 1000};
    csl::Array<float> weights{this, "weights", 20000};
    std::string name() const override { return "huge_gemv"; }
  };
  SinglePe pe(true, {}, 3, 4);
  Huge p;
  try {
    pe.load(p);
    FAIL() << "no error";
  } catch (const CapacityError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("PE(3,4) program huge_gemv"), std::string::npos) << m;
    EXPECT_NE(m.find("'weights' needs 80000 bytes"), std::string::npos) << m;
    // 49152 - 4096 reserved - 4000 for x = 41056 free
    EXPECT_NE(m.find("only 41056 of 49152 bytes"), std::string::npos) << m;
  }
}

TEST(Sram, SymbolsAreAllocatedAboveTheCodeReserveAndFoundByName) {
  SinglePe pe;
  Sender p;
  pe.load(p);
  EXPECT_EQ(p.symbol("v").address(), pe.arch.pe.code_reserve_bytes);
  EXPECT_EQ(p.symbol("h").address(), pe.arch.pe.code_reserve_bytes + 20);
  ASSERT_NE(pe.sram.find("h"), nullptr);
  EXPECT_EQ(pe.sram.find("h")->bytes, 6u);
  EXPECT_THROW(p.symbol("nope"), std::invalid_argument);
}

TEST(TaskIds, ConflictsAreErrors) {
  struct Clash : test::OpenProgram {
    csl::DataTask rx{this, 4, [](hw::TaskArg) {}};
    csl::LocalTask t{this, 4, [] {}};
  };
  SinglePe pe;
  Clash p;
  EXPECT_THROW(pe.load(p), std::invalid_argument);
}

TEST(TaskIds, AutoLocalIdsAvoidColoursAndReservedIds) {
  struct Auto : test::OpenProgram {
    csl::LocalTask fixed{this, 25, [] {}};
    csl::DataTask rx{this, 23, [](hw::TaskArg) {}};
    csl::DataTask rx2{this, 22, [](hw::TaskArg) {}, 1};
    csl::LocalTask a{this, [] {}}, b{this, [] {}}, c{this, [] {}};
  };
  SinglePe pe;
  Auto p;
  pe.load(p);
  EXPECT_EQ(p.a.id(), 26);  // 27..30 are reserved (memcpy, teardown, timer)
  EXPECT_EQ(p.b.id(), 24);  // 25 is taken
  EXPECT_EQ(p.c.id(), 21);  // 23 and 22 are data tasks (task ID = colour)
  EXPECT_EQ(pe.queues.input_queue_of(22), 1);
  EXPECT_EQ(pe.queues.input_queue_of(23), 2);  // auto input queue: the lowest >= 1 still free
}

namespace {
struct HalfStream : test::OpenProgram {
  csl::Array<f16> a{this, "a", 3}, d{this, "d", 3};
  hw::FabinDsd in = fabin({.extent = 3, .color = 9, .input_queue = 4});
  csl::LocalTask go{this, 11, [this] { faddh(d, a, in, {.async = true}); }};
  void init() override { activate(go); }
};
}  // namespace

TEST(Microthread, Fp16FabricOperandsUseTheLowHalfOfEachWavelet) {
  SinglePe pe;
  HalfStream p;
  pe.load(p);
  p.a.write(std::vector<f16>{f16(1.0f), f16(2048.0f), f16(-0.5f)});
  // upper halves carry an index that must not leak into the value
  pe.push(4, 9, (1u << 16) | f16(0.25f).bits);
  pe.push(4, 9, (2u << 16) | f16(1.0f).bits);  // 2048 + 1 rounds to 2048 (tie to even) in fp16
  pe.push(4, 9, (3u << 16) | f16(0.5f).bits);
  pe.run();
  const auto d = p.d.read();
  EXPECT_EQ(d[0].to_float(), 1.25f);
  EXPECT_EQ(d[1].to_float(), 2048.0f);
  EXPECT_EQ(d[2].to_float(), 0.0f);
  EXPECT_EQ(pe.ce.stats().wavelets_received, 3u);
}

TEST(TaskIds, ActivatingAnUnboundIdIsAnError) {
  SinglePe pe;
  Three p;
  pe.load(p);
  try {
    p.activate(12);
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("PE(0,0): activate: no task is bound to ID 12"), std::string::npos) << e.what();
  }
}

// A CE steps on the host threads (isolated) unless its program shares host state or it has teardown handlers
// (they reconfigure the router).
TEST(CeTasks, IsolatedUnlessTheProgramSharesHostStateOrHandlesTeardown) {
  wafersim::test::SinglePe a;
  EXPECT_TRUE(a.ce.isolated());
  a.ce.set_shares_host_state(true);
  EXPECT_FALSE(a.ce.isolated());
  wafersim::test::SinglePe b;
  b.ce.set_teardown_handler(3, [](hw::Color) {});
  EXPECT_FALSE(b.ce.isolated());
}
