// Static routing state of one colour at one router, as a layout sets it (CSL @set_color_config): base rx/tx
// sets, switch positions 1..3, ring mode, pop mode, an optional filter on delivery to the CE, teardown.
// Not modelled: colour swap (WSE-2 color_swap_x/y) and CE-inject mode.
#pragma once
#include <array>
#include <cstdint>

#include "hw/wavelet.hpp"

namespace wafersim::hw {

// What a router does with the switch command of a control wavelet after acting on it.
enum class PopMode : std::uint8_t {
  NoPop,            // the command stays: every router on the path acts on it
  AlwaysPop,        // the command is removed after this router: the next router sees the next command
  PopOnAdvance,     // removed only if it advanced this router's switch
  PopOnAdvanceNop,  // removed if it was an ADV or a NOP
};

// A switch position 1..3 overrides either the rx set (one direction) or the tx set (one or more directions).
struct SwitchPosition {
  enum class Kind : std::uint8_t { Invalid, Rx, Tx };
  Kind kind = Kind::Invalid;
  DirMask mask = 0;
  bool operator==(const SwitchPosition&) const = default;
};

enum class FilterKind : std::uint8_t { None, Counter, SparseCounter, Range };

// Gates delivery to the CE (RAMP), never forwarding to other routers.
struct FilterConfig {
  FilterKind kind = FilterKind::None;
  // counter / sparse_counter: the counter counts data and/or control wavelets and wraps to 0 after limit1;
  // a data wavelet is delivered iff counter <= max_counter before it is counted. filter_control: control
  // wavelets are delivered only when they arrive at counter == max_counter. sparse_counter: limit2 replaces
  // limit1 after the first wrap, and the filter disables itself after the second.
  bool count_data = true;
  bool count_control = false;
  bool filter_control = false;
  std::uint16_t limit1 = 0;
  std::uint16_t limit2 = 0;
  std::uint16_t max_counter = 0;
  std::uint16_t init_counter = 0;
  // range: a data wavelet is delivered iff min_index <= index (upper 16 payload bits) <= max_index; control
  // wavelets always pass.
  std::uint16_t min_index = 0;
  std::uint16_t max_index = 0xffff;
  bool operator==(const FilterConfig&) const = default;
};

struct ColorConfig {
  DirMask rx = 0;  // position 0: inputs the colour is accepted from (a mux: at most one active at a time)
  DirMask tx = 0;  // position 0: outputs it is copied to (multicast, RAMP included)
  std::array<SwitchPosition, 3> positions{};  // positions 1..3
  std::uint8_t initial_position = 0;          // 0..3
  bool ring_mode = false;                     // ADV at the last valid position wraps to 0
  PopMode pop_mode = PopMode::NoPop;
  FilterConfig filter;
  bool teardown = false;  // colour starts in teardown: traffic suspended until the CE exits teardown

  bool operator==(const ColorConfig&) const = default;
  bool configured() const { return rx != 0 || tx != 0; }
  // The rx and tx sets in force at switch position p (positions 1..3 override one of them).
  DirMask rx_at(int p) const {
    return (p > 0 && positions[p - 1].kind == SwitchPosition::Kind::Rx) ? positions[p - 1].mask : rx;
  }
  DirMask tx_at(int p) const {
    return (p > 0 && positions[p - 1].kind == SwitchPosition::Kind::Tx) ? positions[p - 1].mask : tx;
  }
  int last_valid_position() const {
    int last = 0;
    for (int i = 0; i < 3; ++i)
      if (positions[i].kind != SwitchPosition::Kind::Invalid) last = i + 1;
    return last;
  }
};

}  // namespace wafersim::hw
