// Routes that change between steps as a module primitive: a module on PE(0,0) streams vector a, advances the route
// (Module::advance_route: one ADV switch command on its colour, behind a on the same output queue), and streams b.
// PE(1,0)'s route (csl::route_steps) delivers the first step to its CE and passes the second on to PE(2,0), so
// PE(1,0) receives a and PE(2,0) receives b; without the advance, b stays at PE(1,0) and the run cannot finish.
#include <gtest/gtest.h>

#include <vector>

#include "fabric/fabric.hpp"
#include "firmware/csl/layout.hpp"
#include "firmware/csl/module.hpp"

using namespace wafersim;
using hw::bit;
using hw::Dir;

namespace {
constexpr hw::Color kC = 5;

struct Stepper : csl::Module {
  Stepper(csl::Program* p, bool advance) : Module(p, "steps", "stepper"), advance_(advance), oq_(output_queue("the stepped route")) {}
  // Streams a, moves the route to its next step, streams b; `done` runs when b has left.
  void send_two(csl::ArrayBase& a, csl::ArrayBase& b, csl::TaskRef done) {
    fmov(fabout({.extent = a.size(), .color = kC, .output_queue = oq_, .type = hw::ElemType::F32}), a, {.async = true});
    if (advance_) advance_route(kC, oq_);
    fmov(fabout({.extent = b.size(), .color = kC, .output_queue = oq_, .type = hw::ElemType::F32}), b,
         {.async = true, .activate = done});
  }
  bool advance_;
  int oq_;
};

struct Sender : csl::Program {
  explicit Sender(bool advance) : steps(this, advance) {}
  csl::Array<float> a{this, "a", 4}, b{this, "b", 4};
  Stepper steps;
  bool finished = false;
  csl::LocalTask done{this, [this] { finished = true; }};
  csl::LocalTask go{this, [this] { steps.send_two(a, b, done); }};
  void init() override { export_function("go", [this] { activate(go); }); }
};

struct Receiver : csl::Program {
  csl::Array<float> buf{this, "buf", 4};
  csl::Fabin in = fabin({.extent = 4, .color = kC, .input_queue = 2, .type = hw::ElemType::F32});
  bool got = false;
  csl::LocalTask done{this, [this] { got = true; }};
  csl::LocalTask recv{this, [this] { fmov(buf, in, {.async = true, .activate = done}); }};
  void init() override { export_function("go", [this] { activate(recv); }); }
};

struct Row {
  fabric::Fabric f{hw::ArchParams{}, 3, 1};
  csl::Layout layout{3, 1};
  explicit Row(bool advance) {
    layout.set_tile_program<Sender>(0, 0, advance);
    layout.set_tile_program<Receiver>(1, 0);
    layout.set_tile_program<Receiver>(2, 0);
    const std::string who = "module 'steps' (stepper)";
    layout.set_color_config(0, 0, kC, csl::route(bit(Dir::Ramp), bit(Dir::East)), who);
    layout.set_color_config(1, 0, kC,
                            csl::route_steps(bit(Dir::West), bit(Dir::Ramp), {{hw::SwitchPosition::Kind::Tx, bit(Dir::East)}}),
                            who);
    layout.set_color_config(2, 0, kC, csl::route(bit(Dir::West), bit(Dir::Ramp)), who);
    layout.load(f);
    auto& s = layout.program_as<Sender>(0, 0);
    s.a.write(std::vector<float>{1, 2, 3, 4});
    s.b.write(std::vector<float>{5, 6, 7, 8});
    layout.call("go");
  }
};
}  // namespace

TEST(RouteSteps, AModuleAdvancesItsRouteBetweenTwoSteps) {
  Row r(true);
  ASSERT_TRUE(r.f.run().completed);
  EXPECT_TRUE(r.layout.program_as<Sender>(0, 0).finished);
  EXPECT_TRUE(r.layout.program_as<Receiver>(1, 0).got);
  EXPECT_TRUE(r.layout.program_as<Receiver>(2, 0).got);
  EXPECT_EQ(r.layout.program_as<Receiver>(1, 0).buf.read(), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(r.layout.program_as<Receiver>(2, 0).buf.read(), (std::vector<float>{5, 6, 7, 8}));
}

TEST(RouteSteps, WithoutTheAdvanceTheSecondStepNeverArrives) {
  Row r(false);
  bool completed = false;
  try {
    completed = r.f.run(5000).completed;
  } catch (const std::exception&) {  // a deadlock report: b waits in PE(1,0)'s input queue
  }
  EXPECT_FALSE(completed);
  EXPECT_FALSE(r.layout.program_as<Receiver>(2, 0).got);
}

TEST(RouteSteps, AtMostThreeStepsAfterTheFirst) {
  using K = hw::SwitchPosition::Kind;
  EXPECT_THROW(csl::route_steps(bit(Dir::West), bit(Dir::Ramp),
                                {{K::Tx, bit(Dir::East)}, {K::Tx, bit(Dir::North)}, {K::Tx, bit(Dir::South)},
                                 {K::Rx, bit(Dir::East)}}),
               std::invalid_argument);
}
