#include <gtest/gtest.h>

#include "hw/wavelet.hpp"

using namespace wafersim::hw;

TEST(ControlPayload, DecodesTheAllreduceLibraryTeardownWord) {
  // The SDK allreduce library's teardown word: command 0 = TEARDOWN, the rest NOP, no entrypoint.
  ControlPayload p = ControlPayload::decode(0x09df9249u);
  EXPECT_EQ(p.cmd[0], SwitchCmd::Teardown);
  EXPECT_TRUE(p.ce_ignore[0]);
  for (int k = 1; k < 8; ++k) EXPECT_EQ(p.cmd[k], SwitchCmd::Nop) << k;
  EXPECT_EQ(p.entrypoint, kNullColor);
}

TEST(ControlPayload, EncodeDecodeRoundTrips) {
  ControlPayload p;
  p.cmd = {SwitchCmd::Advance, SwitchCmd::Reset, SwitchCmd::Nop, SwitchCmd::Teardown,
           SwitchCmd::Advance, SwitchCmd::Nop,   SwitchCmd::Reset, SwitchCmd::Advance};
  p.ce_ignore = {true, false, true, false, true, false, true, false};
  p.entrypoint = 42;
  ControlPayload q = ControlPayload::decode(p.encode());
  EXPECT_EQ(q.cmd, p.cmd);
  EXPECT_EQ(q.ce_ignore, p.ce_ignore);
  EXPECT_EQ(q.entrypoint, 42);
}

TEST(ControlPayload, PopShiftsCommandsDown) {
  ControlPayload p;
  p.cmd[0] = SwitchCmd::Advance;
  p.cmd[1] = SwitchCmd::Reset;
  ControlPayload q = ControlPayload::decode(ControlPayload::pop(p.encode()));
  EXPECT_EQ(q.cmd[0], SwitchCmd::Reset);
  EXPECT_EQ(q.cmd[1], SwitchCmd::Nop);
}

TEST(ControlPayload, SingleCommandCarriesSixteenBitsOfData) {
  std::uint32_t w = ControlPayload::single(SwitchCmd::Advance, false, 5, 0xbeef);
  EXPECT_EQ(w & 0xffffu, 0xbeefu);
  ControlPayload p = ControlPayload::decode(w);
  EXPECT_EQ(p.cmd[0], SwitchCmd::Advance);
  EXPECT_EQ(p.entrypoint, 5);
}
