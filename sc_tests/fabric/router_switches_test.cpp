// Switch positions driven by control wavelets (advance, reset, ring mode, pop modes) and filters on delivery.
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "fabric_fixture.hpp"

using namespace wafersim;
using namespace wafersim::fabric;
using namespace wafersim::fabric::testing;
using hw::ControlPayload;
using hw::SwitchCmd;
using hw::SwitchPosition;

namespace {

hw::Wavelet control(SwitchCmd cmd0, SwitchCmd cmd1 = SwitchCmd::Nop, bool ce_ignore = false) {
  ControlPayload p;
  p.cmd[0] = cmd0;
  p.cmd[1] = cmd1;
  p.ce_ignore.fill(true);
  p.ce_ignore[0] = ce_ignore;
  return hw::Wavelet{p.encode(), 4, true};
}

// PE 0 sends colour 4 east to PE 1. PE 1 delivers to its CE in position 0 and forwards east in position 1 (tx
// override); PE 2 receives what PE 1 forwards.
struct SwitchRow {
  explicit SwitchRow(bool ring, int positions = 1) : f(small_arch(), 3, 1), drv(f) {
    f.set_color_config(0, 0, 4, route(bit(Dir::Ramp), bit(Dir::East)));
    hw::ColorConfig mid = route(bit(Dir::West), bit(Dir::Ramp));
    mid.positions[0] = {SwitchPosition::Kind::Tx, bit(Dir::East)};
    if (positions >= 2) mid.positions[1] = {SwitchPosition::Kind::Tx, bit(Dir::East) | bit(Dir::Ramp)};
    mid.ring_mode = ring;
    f.set_color_config(1, 0, 4, mid);
    f.set_color_config(2, 0, 4, route(bit(Dir::West), bit(Dir::Ramp)));
    f.queues(1, 0).bind_input_queue(0, 4);
    f.queues(2, 0).bind_input_queue(0, 4);
  }
  std::vector<std::uint32_t> data_at(int x) {
    std::vector<std::uint32_t> v;
    for (const auto& r : drv.at(x, 0).received())
      if (!r.w.control) v.push_back(r.w.payload);
    return v;
  }
  int controls_at(int x) {
    int n = 0;
    for (const auto& r : drv.at(x, 0).received()) n += r.w.control;
    return n;
  }
  void run(std::initializer_list<hw::Wavelet> ws) {
    for (const auto& w : ws) drv.at(0, 0).send(w, 2);
    drv.attach({{0, 0}, {1, 0}, {2, 0}});
    ASSERT_TRUE(f.run().completed);
  }
  Fabric f;
  Drivers drv;
};

TEST(Switches, SwitchMovesOnlyAfterControlWaveletPassed) {
  SwitchRow t(false);
  t.run({data(1, 4), control(SwitchCmd::Advance), data(2, 4), data(3, 4)});
  EXPECT_EQ(t.data_at(1), (std::vector<std::uint32_t>{1}));
  // The control wavelet itself used position 0 (delivered to PE 1's CE, not forwarded).
  EXPECT_EQ(t.controls_at(1), 1);
  EXPECT_EQ(t.controls_at(2), 0);
  EXPECT_EQ(t.data_at(2), (std::vector<std::uint32_t>{2, 3}));
  EXPECT_EQ(t.f.router(1, 0).state(4)->position, 1);
}

TEST(Switches, ResetReturnsToPositionZero) {
  SwitchRow t(false);
  t.run({control(SwitchCmd::Advance), data(1, 4), control(SwitchCmd::Reset), data(2, 4)});
  EXPECT_EQ(t.data_at(2), (std::vector<std::uint32_t>{1}));
  EXPECT_EQ(t.data_at(1), (std::vector<std::uint32_t>{2}));
  EXPECT_EQ(t.f.router(1, 0).state(4)->position, 0);
}

TEST(Switches, WithoutRingModeTheLastPositionSticks) {
  SwitchRow t(false);
  t.run({control(SwitchCmd::Advance), control(SwitchCmd::Advance), data(7, 4)});
  EXPECT_EQ(t.f.router(1, 0).state(4)->position, 1);
  EXPECT_EQ(t.data_at(2), (std::vector<std::uint32_t>{7}));
}

TEST(Switches, RingModeWrapsToPositionZero) {
  SwitchRow t(true, 2);
  t.run({control(SwitchCmd::Advance), data(1, 4), control(SwitchCmd::Advance), data(2, 4),
         control(SwitchCmd::Advance), data(3, 4)});
  EXPECT_EQ(t.data_at(2), (std::vector<std::uint32_t>{1, 2}));  // positions 1 and 2 forward east
  EXPECT_EQ(t.data_at(1), (std::vector<std::uint32_t>{2, 3}));  // position 2 and, after wrapping, position 0
  EXPECT_EQ(t.f.router(1, 0).state(4)->position, 0);
}

TEST(Switches, ControlWaveletWithCeIgnoreIsNotDeliveredToTheCe) {
  SwitchRow t(false);
  t.run({control(SwitchCmd::Advance, SwitchCmd::Nop, /*ce_ignore=*/true), data(5, 4)});
  EXPECT_EQ(t.controls_at(1), 0);
  EXPECT_EQ(t.data_at(2), (std::vector<std::uint32_t>{5}));
}

// Chain 0 -> 1 -> 2 -> 3 on colour 4 where PEs 1 and 2 have a switch (position 1 also delivers to the CE).
std::pair<int, int> positions_after_advance(hw::PopMode mode) {
  Fabric f(small_arch(), 4, 1);
  Drivers drv(f);
  f.set_color_config(0, 0, 4, route(bit(Dir::Ramp), bit(Dir::East)));
  for (int x : {1, 2}) {
    hw::ColorConfig c = route(bit(Dir::West), bit(Dir::East));
    c.positions[0] = {SwitchPosition::Kind::Tx, bit(Dir::East) | bit(Dir::Ramp)};
    c.pop_mode = mode;
    f.set_color_config(x, 0, 4, c);
    f.queues(x, 0).bind_input_queue(0, 4);
  }
  f.set_color_config(3, 0, 4, route(bit(Dir::West), bit(Dir::Ramp)));
  f.queues(3, 0).bind_input_queue(0, 4);
  drv.at(0, 0).send(control(SwitchCmd::Advance, SwitchCmd::Nop, true), 2);
  drv.attach({{0, 0}, {1, 0}, {2, 0}, {3, 0}});
  EXPECT_TRUE(f.run().completed);
  return {f.router(1, 0).state(4)->position, f.router(2, 0).state(4)->position};
}

TEST(Switches, NoPopLetsEveryRouterOnThePathAct) {
  EXPECT_EQ(positions_after_advance(hw::PopMode::NoPop), std::make_pair(1, 1));
}

TEST(Switches, AlwaysPopHandsTheNextRouterTheNextCommand) {
  EXPECT_EQ(positions_after_advance(hw::PopMode::AlwaysPop), std::make_pair(1, 0));
}

TEST(Switches, PopOnAdvancePopsAnAdvance) {
  EXPECT_EQ(positions_after_advance(hw::PopMode::PopOnAdvance), std::make_pair(1, 0));
}

TEST(Switches, TeardownSuspendsTheColourUntilTheCeExitsIt) {
  SwitchRow t(false);
  for (const auto& w : {control(SwitchCmd::Teardown), data(9, 4)}) t.drv.at(0, 0).send(w, 2);
  t.drv.attach({{0, 0}, {1, 0}, {2, 0}});
  // Every router the TEARDOWN command passes (the sender's included) suspends the colour; nobody exits it here.
  EXPECT_THROW(t.f.run(), DeadlockError);
  EXPECT_TRUE(t.f.router(0, 0).in_teardown(4));
  EXPECT_TRUE(t.f.router(1, 0).in_teardown(4));
  EXPECT_TRUE(t.data_at(1).empty());
  t.f.exit_teardown(0, 0, 4);
  t.f.exit_teardown(1, 0, 4);
  ASSERT_TRUE(t.f.run().completed);
  EXPECT_EQ(t.data_at(1), (std::vector<std::uint32_t>{9}));
}

TEST(Filters, RangeFilterGatesDeliveryToTheCeNotForwarding) {
  // PE 0 sends 12 wavelets with index 0..11 east; PEs 1..3 each deliver only their 3 to the CE.
  Fabric f(small_arch(), 4, 1);
  Drivers drv(f);
  f.set_color_config(0, 0, 6, route(bit(Dir::Ramp), bit(Dir::East)));
  for (int x = 1; x <= 3; ++x) {
    hw::ColorConfig c = route(bit(Dir::West), bit(Dir::Ramp) | (x < 3 ? bit(Dir::East) : 0));
    c.filter.kind = hw::FilterKind::Range;
    c.filter.min_index = std::uint16_t(3 * (x - 1));
    c.filter.max_index = std::uint16_t(3 * (x - 1) + 2);
    f.set_color_config(x, 0, 6, c);
    f.queues(x, 0).bind_input_queue(0, 6);
  }
  for (std::uint32_t i = 0; i < 12; ++i) drv.at(0, 0).send(data((i << 16) | (100 + i), 6), 2);
  drv.attach({{0, 0}, {1, 0}, {2, 0}, {3, 0}});
  ASSERT_TRUE(f.run().completed);
  for (int x = 1; x <= 3; ++x) {
    const auto& got = drv.at(x, 0).received();
    ASSERT_EQ(got.size(), 3u) << "PE " << x;
    for (int k = 0; k < 3; ++k) EXPECT_EQ(got[k].w.index(), 3 * (x - 1) + k);
  }
  EXPECT_EQ(f.stats().filtered, 3u * 9u);  // every PE sees all 12 and keeps 3 from its CE
}

TEST(Filters, CounterFilterDeliversTheFirstMaxCounterPlusOneOfEachPeriod) {
  Fabric f(small_arch(), 2, 1);
  Drivers drv(f);
  f.set_color_config(0, 0, 6, route(bit(Dir::Ramp), bit(Dir::East)));
  hw::ColorConfig c = route(bit(Dir::West), bit(Dir::Ramp));
  c.filter.kind = hw::FilterKind::Counter;
  c.filter.limit1 = 3;       // counter 0, 1, 2, 3, 0, ...
  c.filter.max_counter = 1;  // deliver at counter 0 and 1
  f.set_color_config(1, 0, 6, c);
  f.queues(1, 0).bind_input_queue(0, 6);
  for (std::uint32_t i = 0; i < 10; ++i) drv.at(0, 0).send(data(i, 6), 2);
  drv.attach({{0, 0}, {1, 0}});
  ASSERT_TRUE(f.run().completed);
  std::vector<std::uint32_t> got;
  for (const auto& r : drv.at(1, 0).received()) got.push_back(r.w.payload);
  EXPECT_EQ(got, (std::vector<std::uint32_t>{0, 1, 4, 5, 8, 9}));
  EXPECT_EQ(f.stats().filtered, 4u);
}

}  // namespace
