// The unit of fabric traffic: a 32-bit payload, a 5-bit colour and a control bit (outside the payload), plus
// the control-wavelet payload layout (switch commands + control-task entrypoint) of the Cerebras SDK.
// Not modelled: the 16-bit "sparse" index/data split is only a view on the payload (index = upper 16 bits).
#pragma once
#include <array>
#include <cstdint>
#include <string>

namespace wafersim::hw {

using Cycle = std::uint64_t;
constexpr Cycle kNever = ~Cycle{0};

// Hot per-wavelet state keeps only the low 16 bits of a cycle (hw::Router::Entry ready times, hw::WaveletQueue push
// stamps). The fabric refreshes such times at least every kShortCycleWindow cycles, so a stored time is never more
// than 2^15 cycles from the cycle it is compared with.
constexpr Cycle kShortCycleWindow = Cycle{1} << 13;
// The first cycle at or after `base` whose low 16 bits are `low`.
constexpr Cycle unwrap_short_cycle(Cycle base, std::uint16_t low) {
  return base + std::uint16_t(low - std::uint16_t(base));
}

using Color = std::uint8_t;
constexpr Color kNullColor = 31;  // "no colour" in control payloads
constexpr int kMaxColors = 32;    // 5-bit colour field; only the routable ones (config) carry traffic

// Router ports. RAMP is the link between a router and its own compute engine.
enum class Dir : std::uint8_t { North = 0, South = 1, East = 2, West = 3, Ramp = 4 };
constexpr int kNumPorts = 5;
using DirMask = std::uint8_t;  // bit i = Dir(i)
constexpr DirMask bit(Dir d) { return DirMask(1u << static_cast<int>(d)); }
constexpr Dir opposite(Dir d) {
  switch (d) {
    case Dir::North: return Dir::South;
    case Dir::South: return Dir::North;
    case Dir::East: return Dir::West;
    case Dir::West: return Dir::East;
    default: return Dir::Ramp;
  }
}
const char* dir_name(Dir d);               // "N", "S", "E", "W", "RAMP"
std::string dir_mask_string(DirMask mask);  // "{W,RAMP}"

struct Wavelet {
  std::uint32_t payload = 0;
  Color color = 0;
  bool control = false;

  std::uint16_t index() const { return static_cast<std::uint16_t>(payload >> 16); }
  std::uint16_t data16() const { return static_cast<std::uint16_t>(payload & 0xffffu); }
  bool operator==(const Wavelet&) const = default;
};

// Switch commands carried by control wavelets.
enum class SwitchCmd : std::uint8_t { Nop = 0, Advance = 1, Reset = 2, Teardown = 3 };

// Control payload layout (cerebras-hardware.md §1.4): entrypoint (control task ID, 31 = none) in bits 16..21;
// command k (2-bit opcode + ce_ignore bit above it) at bit offset 22,25,28,1,4,7,10,13. With a single command,
// the low 16 bits are the control task's data argument.
struct ControlPayload {
  std::array<SwitchCmd, 8> cmd{};        // all NOP
  std::array<bool, 8> ce_ignore{};       // true: do not deliver this command's wavelet to the CE
  std::uint8_t entrypoint = kNullColor;  // control task ID 0..63, or 31 = none

  static constexpr std::array<int, 8> kCmdOffset = {22, 25, 28, 1, 4, 7, 10, 13};

  std::uint32_t encode() const;
  static ControlPayload decode(std::uint32_t payload);
  // Single-command form: command 0, entrypoint, 16-bit data in the low bits (commands 3..7 are then NOP).
  static std::uint32_t single(SwitchCmd cmd, bool ce_ignore, std::uint8_t entrypoint, std::uint16_t data);
  // The payload after a router pops the first command: commands shift down, the last becomes NOP.
  static std::uint32_t pop(std::uint32_t payload);
};

}  // namespace wafersim::hw
