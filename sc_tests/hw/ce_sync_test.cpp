// Blocking (synchronous) fabric DSD operations in coroutine task bodies: the main thread waits for the operation
// (no other task is picked, microthreads go on), the body continues the cycle after the last element, values
// arrive exact; a helper coroutine can block too; a void body that issues a blocking operation is an error.
#include <gtest/gtest.h>

#include <bit>

#include "sc_tests/hw/open_program.hpp"
#include "sc_tests/hw/single_pe.hpp"

using namespace wafersim;
using test::SinglePe;

namespace {
std::uint32_t bits(float f) { return std::bit_cast<std::uint32_t>(f); }
constexpr hw::Color kRx = 3, kTx = 4, kOther = 6;

// Receives 4 floats with a blocking fmovs, then doubles them; a local task activated meanwhile must wait.
struct SyncRecv : test::OpenProgram {
  csl::Array<float> buf{this, "buf", 4};
  hw::Cycle resumed = 0, other_at = 0, async_done_at = 0;
  csl::LocalTask other{this, 5, [this] { other_at = now(); }};
  csl::LocalTask async_done{this, 7, [this] { async_done_at = now(); }};
  csl::LocalTask body{this, 1, [this]() -> csl::Coro {
                        activate(other);
                        co_await fmovs(buf, fabin({.extent = 4, .color = kRx, .input_queue = 2}));
                        resumed = now();
                        fadds(buf, buf, buf);
                      }};
  void init() override { activate(body); }
};
}  // namespace

TEST(BlockingFabricOp, MainThreadWaitsAndResumesAfterTheLastElement) {
  SinglePe pe;
  SyncRecv p;
  pe.load(p);
  const auto& pa = pe.arch.pe;
  pe.step(0);
  // Wavelets arrive at cycles 20..23: the op waits for them, the main thread with it.
  for (hw::Cycle t = 1; t < 20; ++t) {
    if (pe.next <= t) pe.step(t);
  }
  EXPECT_EQ(p.other_at, 0u) << "no other task may run while the body waits";
  EXPECT_TRUE(pe.ce.busy());
  for (int k = 0; k < 4; ++k) {
    pe.push(2, kRx, bits(1.5f + k));
    pe.step(20 + k);
  }
  pe.run();
  EXPECT_EQ(p.resumed, 24u) << "last element moved at 23, the body continues at 24";
  EXPECT_EQ(p.buf.read(), (std::vector<float>{3.0f, 5.0f, 7.0f, 9.0f}));
  // The body's fadds (3 DSD operands loaded, issue, 4 chunks: buf read twice is a bank conflict, width 1) ends
  // the task; then `other` is picked.
  const hw::Cycle body_end = 24 + 3 * pa.dsr_load_cycles + pa.dsd_issue_cycles + 4 * pa.simd_chunk_cycles;
  EXPECT_EQ(p.other_at, body_end + pa.task_switch_cycles);
  EXPECT_FALSE(pe.ce.busy());
}

TEST(BlockingFabricOp, MicrothreadsGoOnWhileTheMainThreadWaits) {
  // The body sends 3 wavelets asynchronously on microthread 2 (its OQ), then blocks on a receive: the send
  // completes and activates its task while the body still waits; that task runs only after the body ends.
  struct P : test::OpenProgram {
    csl::Array<float> out{this, "out", 3}, in{this, "in", 1};
    hw::Cycle sent_at = 0, resumed = 0;
    csl::LocalTask sent{this, 5, [this] { sent_at = now(); }};
    csl::LocalTask body{this, 1, [this]() -> csl::Coro {
                          fmovs(fabout({.extent = 3, .color = kTx, .output_queue = 2}), out,
                                {.async = true, .activate = sent});
                          co_await fmovs(in, fabin({.extent = 1, .color = kRx, .input_queue = 3}));
                          resumed = now();
                        }};
    void init() override { activate(body); }
  } p;
  SinglePe pe;
  pe.load(p);
  pe.step(0);
  std::vector<hw::Cycle> sent_cycles;
  for (hw::Cycle t = 1; t < 40; ++t) {
    if (t == 30) pe.push(3, kRx, bits(2.0f));
    if (pe.next <= t || t == 30) pe.step(t);
    while (!pe.queues.oq(2).empty()) {
      pe.queues.pop_output(2);
      sent_cycles.push_back(t);
    }
  }
  pe.run();
  ASSERT_EQ(sent_cycles.size(), 3u) << "the send ran while the main thread waited";
  EXPECT_LT(sent_cycles.back(), 30u);
  EXPECT_EQ(p.resumed, 31u);
  EXPECT_GT(p.sent_at, p.resumed) << "the activated task waits for the body";
  EXPECT_EQ(p.in.get(0), 2.0f);
}

TEST(BlockingFabricOp, HelperCoroutinesBlockToo) {
  // A helper (CSL fn) receives n values with a blocking op; the task awaits it twice, then continues.
  struct P : test::OpenProgram {
    csl::Array<float> a{this, "a", 2}, b{this, "b", 2};
    hw::Cycle resumed = 0;
    hw::FabinDsd rx = fabin({.extent = 2, .color = kRx, .input_queue = 2});  // binds IQ 2 at load
    csl::Coro recv(csl::Array<float>& into) { co_await fmovs(into, rx); }
    csl::LocalTask body{this, 1, [this]() -> csl::Coro {
                          co_await recv(a);
                          co_await recv(b);
                          resumed = now();
                        }};
    void init() override { activate(body); }
  } p;
  SinglePe pe;
  pe.load(p);
  for (int k = 0; k < 4; ++k) pe.push(2, kRx, bits(10.0f + k));
  pe.run();
  EXPECT_EQ(p.a.read(), (std::vector<float>{10.0f, 11.0f}));
  EXPECT_EQ(p.b.read(), (std::vector<float>{12.0f, 13.0f}));
  EXPECT_GT(p.resumed, 0u);
  EXPECT_FALSE(pe.ce.busy());
}

TEST(BlockingFabricOp, BlockingSendFromADataTask) {
  // A data task forwards its wavelet with a blocking 1-element send and counts; a coroutine data task gets its
  // argument like a void one.
  struct P : test::OpenProgram {
    csl::Array<float> v{this, "v", 1};
    int forwarded = 0;
    csl::DataTask fwd{this, kOther, [this](hw::TaskArg arg) -> csl::Coro {
                        v.set(0, arg.f32() * 2.0f);
                        co_await fmovs(fabout({.extent = 1, .color = kTx, .output_queue = 2}), v);
                        ++forwarded;
                      },
                      2};
  } p;
  SinglePe pe;
  pe.load(p);
  pe.push(2, kOther, bits(4.0f));
  pe.run();
  ASSERT_EQ(pe.queues.oq(2).size(), 1u);
  EXPECT_EQ(std::bit_cast<float>(pe.queues.pop_output(2).payload), 8.0f);
  EXPECT_EQ(p.forwarded, 1);
}

TEST(BlockingFabricOp, VoidBodyMustNotIssueABlockingOp) {
  struct P : test::OpenProgram {
    csl::Array<float> in{this, "in", 1};
    csl::LocalTask body{this, 1, [this] { fmovs(in, fabin({.extent = 1, .color = kRx, .input_queue = 2})); }};
    void init() override { activate(body); }
  } p;
  SinglePe pe(true, {}, 3, 4);
  pe.load(p);
  try {
    pe.run();
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("PE(3,4)"), std::string::npos) << m;
    EXPECT_NE(m.find("fmovs"), std::string::npos) << m;
    EXPECT_NE(m.find("co_await"), std::string::npos) << m;
  }
}
