// WSE-3 rules (the wse3 preset; docs/timing-evidence.md 5): data tasks bound to input queues, local task IDs 8..30,
// explicit microthread IDs, output queues bound to one colour (queue_flush rebinds), one fabin per operation. The
// same programs under the WSE-2 preset follow the WSE-2 rules; programs that break a WSE-3 rule fail naming the PE,
// the program or module and the limit.
#include <gtest/gtest.h>

#include <bit>

#include "hw/arch_params.hpp"
#include "sc_tests/hw/open_program.hpp"
#include "sc_tests/hw/single_pe.hpp"

using namespace wafersim;
using test::SinglePe;

namespace {
hw::ArchParams preset(const char* name) {
  return hw::load_arch(std::string(WAFERSIM_SOURCE_DIR) + "/configs/" + name + ".yaml");
}
std::uint32_t bits(float f) { return std::bit_cast<std::uint32_t>(f); }
std::string attach_error(SinglePe& pe, csl::Program& p) {
  try {
    pe.load(p);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

struct OnQueue : test::OpenProgram {
  std::vector<float> got;
  csl::DataTask rx{this, 12, [this](csl::TaskArg a) { got.push_back(a.f32()); }, 3};
  csl::LocalTask later{this, [] {}};
};
}  // namespace

TEST(Wse3Rules, DataTaskIdIsItsInputQueue) {
  for (const char* arch : {"wse2", "wse3"}) {
    SinglePe pe(true, preset(arch));
    OnQueue p;
    pe.load(p);
    const bool wse3 = std::string(arch) == "wse3";
    EXPECT_EQ(p.rx.id(), wse3 ? 3 : 12) << arch;
    EXPECT_EQ(pe.ce.kind(wse3 ? 3 : 12), hw::TaskKind::Data) << arch;
    EXPECT_EQ(pe.ce.kind(wse3 ? 12 : 3), hw::TaskKind::Unbound) << arch;
    EXPECT_GE(p.later.id(), wse3 ? 8 : 0) << arch;  // auto local IDs stay in the local range
    pe.push(3, 12, bits(2.5f));
    pe.run();
    EXPECT_EQ(p.got, std::vector<float>{2.5f}) << arch;
  }
}

TEST(Wse3Rules, LocalTaskIdsStartAtEight) {
  struct Low : test::OpenProgram {
    csl::LocalTask t{this, 5, [] {}, "low"};
  };
  SinglePe wse2(true, preset("wse2"));
  Low a;
  EXPECT_EQ(attach_error(wse2, a), "");
  SinglePe wse3(true, preset("wse3"));
  Low b;
  const std::string msg = attach_error(wse3, b);
  EXPECT_NE(msg.find("PE(0,0)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("local task ID 5 outside 8..30"), std::string::npos) << msg;
  EXPECT_NE(msg.find("pe.local_task_min_id"), std::string::npos) << msg;
}

// Two receives on different input queues: on WSE-2 each runs on its queue's microthread (the second, whose data is
// there first, ends first); naming one microthread for both (WSE-3 .ut_id) runs them in issue order.
TEST(Wse3Rules, ExplicitMicrothreadIdsSerialiseOperations) {
  struct TwoRecv : test::OpenProgram {
    explicit TwoRecv(int ut) : ut_(ut) {}
    int ut_;
    csl::Array<float> a{this, "a", 4}, b{this, "b", 4};
    hw::Cycle a_done = 0, b_done = 0;
    csl::LocalTask da{this, 20, [this] { a_done = now(); }};
    csl::LocalTask db{this, 21, [this] { b_done = now(); }};
    csl::LocalTask go{this, 22, [this] {
                        fmovs(a, fabin({.extent = 4, .color = 4, .input_queue = 1}),
                              {.async = true, .activate = da, .microthread = ut_});
                        fmovs(b, fabin({.extent = 4, .color = 5, .input_queue = 2}),
                              {.async = true, .activate = db, .microthread = ut_});
                      }};
    void init() override { activate(go); }
  };
  auto run = [](const char* arch, int ut, hw::Cycle& a_done, hw::Cycle& b_done) {
    SinglePe pe(true, preset(arch));
    TwoRecv p(ut);
    pe.load(p);
    for (hw::Cycle t = 0; t < 200; ++t) {  // b's data at cycle 10, a's at 50
      if (t == 10 || t == 50)
        for (int k = 0; k < 4; ++k) pe.push(t == 10 ? 2 : 1, t == 10 ? 5 : 4, bits(float(k + (t == 10 ? 0 : 10))));
      pe.step(t);
    }
    EXPECT_EQ(p.a.read(), (std::vector<float>{10, 11, 12, 13})) << arch;
    EXPECT_EQ(p.b.read(), (std::vector<float>{0, 1, 2, 3})) << arch;
    a_done = p.a_done;
    b_done = p.b_done;
  };
  hw::Cycle a2, b2, a3, b3;
  run("wse3", -1, a2, b2);  // WSE-3 without .ut_id: microthreads from the queues, as on WSE-2
  EXPECT_LT(b2, 50u);
  EXPECT_GT(a2, 50u);
  run("wse3", 4, a3, b3);  // both on microthread 4: b waits for a
  EXPECT_GT(a3, 50u);
  EXPECT_GT(b3, a3);

  SinglePe wse2(true, preset("wse2"));
  TwoRecv p(4);
  wse2.load(p);
  try {
    wse2.run();
    FAIL() << "an explicit microthread ID on WSE-2 must be an error";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("PE(0,0)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("pe.explicit_microthread_ids"), std::string::npos) << msg;
  }
}

TEST(Wse3Rules, OneFabricInputPerOperation) {
  struct Join : test::OpenProgram {
    csl::Array<float> y{this, "y", 2};
    csl::LocalTask go{this, 20, [this] {
                        fadds(y, fabin({.extent = 2, .color = 4, .input_queue = 1}),
                              fabin({.extent = 2, .color = 5, .input_queue = 2}), {.async = true});
                      }};
    void init() override { activate(go); }
  };
  SinglePe wse2(true, preset("wse2"));
  Join a;
  wse2.load(a);
  wse2.step(0);  // the task binds the queues
  for (int k = 0; k < 2; ++k) {
    wse2.push(1, 4, bits(1.0f + k));
    wse2.push(2, 5, bits(10.0f));
  }
  wse2.run();
  EXPECT_EQ(a.y.read(), (std::vector<float>{11, 12}));

  SinglePe wse3(true, preset("wse3"));
  Join b;
  wse3.load(b);
  try {
    wse3.run();
    FAIL() << "two fabins in one operation must be an error on WSE-3";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("PE(0,0): fadds: 2 fabric input operands; this architecture allows 1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("pe.fabric_inputs_per_op"), std::string::npos) << msg;
  }
}

TEST(Wse3Rules, OutputQueueCarriesOneColourUntilFlushed) {
  struct TwoColours : test::OpenProgram {
    csl::Array<float> x{this, "x", 2};
    hw::FaboutDsd to4 = fabout({.extent = 2, .color = 4, .output_queue = 2});
    hw::FaboutDsd to5 = fabout({.extent = 2, .color = 5, .output_queue = 2});
  };
  SinglePe wse2(true, preset("wse2"));
  TwoColours a;
  EXPECT_EQ(attach_error(wse2, a), "");
  SinglePe wse3(true, preset("wse3"));
  TwoColours b;
  const std::string msg = attach_error(wse3, b);
  EXPECT_NE(msg.find("PE(0,0): output queue 2 is bound to colour 4, cannot send colour 5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("program TwoColours"), std::string::npos) << msg;

  // queue_flush rebinds an empty queue: the second send leaves on the new colour.
  struct Flush : test::OpenProgram {
    using Program::queue_flush;
    csl::Array<float> x{this, "x", 2};
    csl::LocalTask first{this, 20, [this] {
                           fmovs(fabout({.extent = 2, .color = 4, .output_queue = 2}), x, {.async = true});
                         }};
    csl::LocalTask second{this, 21, [this] {
                            queue_flush(2, 5);
                            fmovs(fabout({.extent = 2, .color = 5, .output_queue = 2}), x, {.async = true});
                          }};
    void init() override { activate(first); }
  };
  SinglePe pe(true, preset("wse3"));
  Flush f;
  pe.load(f);
  f.x.write(std::vector<float>{1.0f, 2.0f});
  pe.run();
  ASSERT_EQ(pe.queues.oq(2).size(), 2);
  EXPECT_THROW(pe.ce.queue_flush(2, 5), std::invalid_argument);  // still holds wavelets
  for (int k = 0; k < 2; ++k) EXPECT_EQ(pe.queues.pop_output(2).color, 4);
  pe.ce.activate(f.second.id());
  pe.run(pe.now + 100);
  ASSERT_EQ(pe.queues.oq(2).size(), 2);
  for (int k = 0; k < 2; ++k) EXPECT_EQ(pe.queues.pop_output(2).color, 5);
}
