// Router of one PE: ports N, S, E, W, RAMP; routable colours as virtual channels, each with its own buffer of
// `color_buffer_depth` wavelets and credit back-pressure (a blocked colour never blocks another); per-colour
// rx mux / tx multicast, switch positions 0..3 driven by control wavelets (ADV/RST/TEARDOWN, ring and pop
// modes), and a counter/range filter on delivery to the CE. One wavelet per output port per cycle, round-robin
// between the colours competing for it. This class holds the state and the per-colour rules; the fabric engine
// (fabric/router_phase.cpp) moves wavelets between routers.
// Not modelled: the router's internal pipeline (router_latency is a parameter), colour swap, CE-inject mode.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "hw/route_config.hpp"
#include "hw/wavelet.hpp"

namespace wafersim::hw {

// The engine's per-router fields (round-robin pointers, colour slots, buffered mask, depth, send counters, colour
// states) share the first cache line; configuration, statistics and ownership of the colour states follow.
class alignas(64) Router {
 public:
  static constexpr int kMaxDepth = 8;
  static constexpr std::uint8_t kUnresolved = 0xff;

  // One buffered wavelet (8 bytes; the colour is its ColorState's). `pending` holds the outputs still to serve,
  // resolved at the head. `ready` is the low 16 bits of the earliest cycle it may leave this router: the fabric
  // calls refresh_ready() at least every kShortCycleWindow cycles (hw/wavelet.hpp), so the 16-bit comparison is
  // exact.
  struct Entry {
    std::uint32_t payload = 0;
    std::uint16_t ready = 0;
    bool control = false;
    std::uint8_t pending = kUnresolved;
  };
  static constexpr int kInlineDepth = 3;
  static bool waiting(const Entry& e, Cycle now) { return std::int16_t(std::uint16_t(e.ready - std::uint16_t(now))) > 0; }
  static Cycle ready_cycle(const Entry& e, Cycle now) {  // exact within the window
    return now + Cycle(std::int64_t(std::int16_t(std::uint16_t(e.ready - std::uint16_t(now)))));
  }

  // Everything the engine touches for one configured colour, in 32 bytes (two colours per cache line): the
  // first 3 positions of the ring buffer of `depth` entries (deeper buffers keep the rest in a side array),
  // switch state and rx/tx sets. Configuration, filter counters and statistics live in side arrays at the same
  // index (slot_of).
  struct alignas(32) ColorState {
    std::array<Entry, kInlineDepth> ring{};  // ring positions 0..2
    Color color = 0;
    std::uint8_t position = 0;
    bool teardown = false;
    std::uint8_t head = 0, size = 0;  // ring buffer of `depth` entries
    DirMask cur_rx = 0, cur_tx = 0;   // rx/tx sets at the current switch position
    bool filtered = false;            // the configuration has a filter (FilterKind != None); hot-path shortcut

    DirMask rx() const { return cur_rx; }
    DirMask tx() const { return cur_tx; }
    Wavelet wavelet(const Entry& e) const { return Wavelet{e.payload, color, e.control}; }
  };
  static_assert(sizeof(ColorState) == 32);

  struct ColorStats {
    std::array<std::uint64_t, kNumPorts> stalls{};      // cycles a ready head waited for room behind each port
    std::uint64_t filtered = 0;                         // wavelets the filter kept from the CE
    std::uint16_t filter_counter = 0;
    std::uint8_t filter_phase = 0;                      // sparse_counter: 0 = limit1, 1 = limit2, 2 = disabled
  };
  using DeepRing = std::array<Entry, kMaxDepth - kInlineDepth>;  // ring positions beyond the colour's cache line

  Router() = default;
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;
  Router(Router&&) noexcept = default;  // a moved vector keeps its buffer, so hot_colors_ stays valid
  Router& operator=(Router&&) noexcept = default;

  // The side arrays of one router. repack() moves them into fresh allocations and hands back the old ones: the
  // fabric repacks every router in PE order at the end of layout (and frees the old storage afterwards) so that a
  // router's hot state is contiguous and neighbours sit close in memory. Behaviour is unaffected.
  struct Storage {
    std::vector<ColorState> colors;
    std::vector<ColorConfig> cfg;
    std::vector<ColorStats> stats;
    std::vector<DeepRing> deep;  // only for a depth beyond kInlineDepth
  };
  // A router whose storage was reserved at layout time (reserve_colors) and never grew is already in place: repack()
  // leaves it (and returns empty storage).
  Storage repack() {
    if (placed_) return {};
    placed_ = true;
    Storage fresh{colors_, cfg_, stats_, deep_};
    std::swap(fresh.colors, colors_);
    std::swap(fresh.cfg, cfg_);
    std::swap(fresh.stats, stats_);
    std::swap(fresh.deep, deep_);
    hot_colors_ = colors_.data();
    return fresh;
  }
  // Hot-path accessors for the fabric engine (no bounds or configuration checks).
  ColorState& state_at(int slot) { return hot_colors_[slot]; }
  const ColorState& state_at(int slot) const { return hot_colors_[slot]; }
  int slot_of(Color c) const { return slot_[c]; }
  int slot_of(const ColorState& cs) const { return int(&cs - hot_colors_); }

  // Buffer depth (router.color_buffer_depth); set by the fabric before any colour is configured.
  void set_depth(int depth) { depth_ = static_cast<std::uint8_t>(depth); }
  int depth() const { return depth_; }

  // Room for `n` more colours, allocated now (a layout reserves each PE's colours in PE order, so the fabric need
  // not repack them). A colour configured beyond the reserved room makes the storage grow (repacked later).
  void reserve_colors(int n) {
    const std::size_t want = colors_.size() + std::size_t(n);
    if (want <= colors_.capacity()) return;
    colors_.reserve(want);
    cfg_.reserve(want);
    stats_.reserve(want);
    if (depth_ > kInlineDepth) deep_.reserve(want);
    hot_colors_ = colors_.data();
    placed_ = true;
  }
  // Layout-time and teardown-time configuration of one colour (resets its switch and filter state).
  void set_color_config(Color c, const ColorConfig& cfg);
  const ColorConfig* color_config(Color c) const { return slot_[c] < 0 ? nullptr : &cfg_[slot_[c]]; }
  const ColorConfig& config(const ColorState& cs) const { return cfg_[slot_of(cs)]; }
  ColorState* state(Color c) { return slot_[c] < 0 ? nullptr : &colors_[slot_[c]]; }
  const ColorState* state(Color c) const { return slot_[c] < 0 ? nullptr : &colors_[slot_[c]]; }
  const std::vector<ColorState>& colors() const { return colors_; }
  ColorStats& stats(const ColorState& cs) { return stats_[slot_of(cs)]; }
  const ColorStats& stats(const ColorState& cs) const { return stats_[slot_of(cs)]; }
  // Wavelets sent out of port o (all colours).
  std::uint64_t sent(int o) const { return sent_carry_[o] + sent_low_[o]; }
  void count_sent(int o) {
    if (++sent_low_[o] == 0) sent_carry_[o] += std::uint64_t(1) << 16;
  }

  // Leaves teardown mode for colour c (called by the CE's teardown handler after reconfiguring).
  void exit_teardown(Color c);
  bool in_teardown(Color c) const { return slot_[c] >= 0 && colors_[slot_[c]].teardown; }

  // Can colour c accept a wavelet arriving from `from` now (configured, rx includes it, room, not torn down)?
  bool can_accept(Color c, Dir from) const {
    const int s = slot_[c];
    if (s < 0) return false;
    const ColorState& cs = hot_colors_[s];
    return !cs.teardown && cs.size < depth_ && (cs.cur_rx & bit(from));
  }
  void accept(ColorState& cs, const Wavelet& w, Cycle ready) {
    int i = cs.head + cs.size;
    if (i >= depth_) i -= depth_;
    Entry& e = entry(cs, i);
    e.payload = w.payload;
    e.control = w.control;
    e.pending = kUnresolved;
    e.ready = static_cast<std::uint16_t>(ready);
    ++cs.size;
    buffered_ |= 1u << cs.color;
  }
  Entry& front(ColorState& cs) { return entry(cs, cs.head); }
  const Entry& front(const ColorState& cs) const { return entry(cs, cs.head); }
  // Ring position i of colour cs (the first kInlineDepth share the colour's cache line).
  Entry& entry(ColorState& cs, int i) {
    return i < kInlineDepth ? cs.ring[i] : deep_[slot_of(cs)][i - kInlineDepth];
  }
  const Entry& entry(const ColorState& cs, int i) const {
    return i < kInlineDepth ? cs.ring[i] : deep_[slot_of(cs)][i - kInlineDepth];
  }
  // Ready times of buffered wavelets that are due by `now` become `now` (see Entry); `base` is the cycle of the
  // previous refresh (every ready time is at or after it and within 2^15 cycles of it).
  void refresh_ready(Cycle base, Cycle now);
  // Removes the head after it has left through every output (the slot is reused next cycle).
  void pop_front(ColorState& cs) {
    cs.head = static_cast<std::uint8_t>(cs.head + 1 == depth_ ? 0 : cs.head + 1);
    if (--cs.size == 0) buffered_ &= ~(1u << cs.color);
  }

  // Applies the first switch command of a control wavelet after it has fully passed this router.
  // Returns true if the colour entered teardown.
  bool apply_control(ColorState& cs, std::uint32_t payload);
  // The payload forwarded downstream (the first command popped according to the colour's pop mode).
  std::uint32_t forwarded_payload(const ColorState& cs, std::uint32_t payload) const;
  // Whether the filter lets this wavelet reach the CE (updates the counter).
  bool filter_accepts(ColorState& cs, const Wavelet& w) { return !cs.filtered || filter_accepts_slow(cs, w); }

  std::uint32_t buffered_colors() const { return buffered_; }  // bit c: colour c holds wavelets
  bool has_buffered() const { return buffered_ != 0; }
  std::array<std::uint8_t, kNumPorts> rr{};  // round-robin pointer (last colour served) per output port
  std::uint8_t oq_rr = 0;                    // round-robin over output queues for RAMP injection

 private:
  void set_position(ColorState& cs, int p);
  bool filter_accepts_slow(ColorState& cs, const Wavelet& w);

  std::array<std::int8_t, kMaxColors> slot_ = [] {
    std::array<std::int8_t, kMaxColors> a{};
    a.fill(-1);
    return a;
  }();
  std::uint32_t buffered_ = 0;
  std::uint8_t depth_ = 1;
  bool placed_ = false;  // storage allocated once at its final size, in layout order (repack() leaves it)
  std::array<std::uint16_t, kNumPorts> sent_low_{};  // wavelets out of each port, modulo 2^16
  ColorState* hot_colors_ = nullptr;  // colors_.data()
  std::vector<ColorState> colors_;
  std::vector<ColorConfig> cfg_;
  std::vector<ColorStats> stats_;
  std::vector<DeepRing> deep_;  // per colour when depth_ > kInlineDepth, else empty
  std::array<std::uint64_t, kNumPorts> sent_carry_{};  // 2^16 * carries of sent_low_
};

}  // namespace wafersim::hw
