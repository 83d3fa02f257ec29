#include "hw/wavelet.hpp"

namespace wafersim::hw {

const char* dir_name(Dir d) {
  static const char* names[] = {"N", "S", "E", "W", "RAMP"};
  return names[static_cast<int>(d)];
}

std::string dir_mask_string(DirMask mask) {
  std::string s = "{";
  for (int i = 0; i < kNumPorts; ++i) {
    if (mask & (1u << i)) {
      if (s.size() > 1) s += ",";
      s += dir_name(static_cast<Dir>(i));
    }
  }
  return s + "}";
}

std::uint32_t ControlPayload::encode() const {
  std::uint32_t w = std::uint32_t(entrypoint & 0x3f) << 16;
  for (int k = 0; k < 8; ++k) {
    w |= std::uint32_t(cmd[k]) << kCmdOffset[k];
    w |= std::uint32_t(ce_ignore[k] ? 1 : 0) << (kCmdOffset[k] + 2);
  }
  return w;
}

ControlPayload ControlPayload::decode(std::uint32_t w) {
  ControlPayload p;
  p.entrypoint = static_cast<std::uint8_t>((w >> 16) & 0x3f);
  for (int k = 0; k < 8; ++k) {
    p.cmd[k] = static_cast<SwitchCmd>((w >> kCmdOffset[k]) & 3u);
    p.ce_ignore[k] = (w >> (kCmdOffset[k] + 2)) & 1u;
  }
  return p;
}

std::uint32_t ControlPayload::single(SwitchCmd c, bool ignore, std::uint8_t entry, std::uint16_t data) {
  ControlPayload p;
  p.cmd[0] = c;
  p.ce_ignore[0] = ignore;
  p.entrypoint = entry;
  // Commands 1 and 2 sit above bit 22 and stay NOP; the data argument owns the low 16 bits.
  return (p.encode() & 0xffff0000u) | data;
}

std::uint32_t ControlPayload::pop(std::uint32_t w) {
  ControlPayload p = decode(w);
  for (int k = 0; k < 7; ++k) {
    p.cmd[k] = p.cmd[k + 1];
    p.ce_ignore[k] = p.ce_ignore[k + 1];
  }
  p.cmd[7] = SwitchCmd::Nop;
  p.ce_ignore[7] = true;
  return p.encode();
}

}  // namespace wafersim::hw
