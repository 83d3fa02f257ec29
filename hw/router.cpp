#include "hw/router.hpp"

namespace wafersim::hw {

void Router::set_position(ColorState& cs, int p) {
  const ColorConfig& cfg = cfg_[slot_of(cs)];
  cs.position = static_cast<std::uint8_t>(p);
  cs.cur_rx = cfg.rx_at(p);
  cs.cur_tx = cfg.tx_at(p);
}

void Router::set_color_config(Color c, const ColorConfig& cfg) {
  if (slot_[c] < 0) {
    if (colors_.size() == colors_.capacity()) placed_ = false;  // it grows: no longer where the layout put it
    slot_[c] = static_cast<std::int8_t>(colors_.size());
    colors_.emplace_back();
    hot_colors_ = colors_.data();
    cfg_.emplace_back();
    stats_.emplace_back();
    if (depth_ > kInlineDepth) deep_.emplace_back();
  }
  ColorState& cs = colors_[slot_[c]];
  cfg_[slot_[c]] = cfg;
  cs.color = c;
  set_position(cs, cfg.initial_position);
  cs.teardown = cfg.teardown;
  stats_[slot_[c]].filter_phase = 0;
  stats_[slot_[c]].filter_counter = cfg.filter.init_counter;
  cs.filtered = cfg.filter.kind != FilterKind::None;
}

void Router::refresh_ready(Cycle base, Cycle now) {
  if (!buffered_) return;
  for (ColorState& cs : colors_) {
    for (int k = 0, i = cs.head; k < cs.size; ++k, i = i + 1 == depth_ ? 0 : i + 1) {
      Entry& e = entry(cs, i);
      if (unwrap_short_cycle(base, e.ready) <= now) e.ready = static_cast<std::uint16_t>(now);
    }
  }
}

void Router::exit_teardown(Color c) {
  if (ColorState* cs = state(c)) cs->teardown = false;
}

bool Router::apply_control(ColorState& cs, std::uint32_t payload) {
  const ColorConfig& cfg = cfg_[slot_of(cs)];
  switch (ControlPayload::decode(payload).cmd[0]) {
    case SwitchCmd::Nop:
      return false;
    case SwitchCmd::Advance:
      if (cs.position < cfg.last_valid_position()) set_position(cs, cs.position + 1);
      else if (cfg.ring_mode) set_position(cs, 0);
      return false;
    case SwitchCmd::Reset:
      set_position(cs, 0);
      return false;
    case SwitchCmd::Teardown:
      cs.teardown = true;
      return true;
  }
  return false;
}

std::uint32_t Router::forwarded_payload(const ColorState& cs, std::uint32_t payload) const {
  const SwitchCmd cmd = ControlPayload::decode(payload).cmd[0];
  bool pop = false;
  switch (cfg_[slot_of(cs)].pop_mode) {
    case PopMode::NoPop: pop = false; break;
    case PopMode::AlwaysPop: pop = true; break;
    case PopMode::PopOnAdvance: pop = cmd == SwitchCmd::Advance; break;
    case PopMode::PopOnAdvanceNop: pop = cmd == SwitchCmd::Advance || cmd == SwitchCmd::Nop; break;
  }
  return pop ? ControlPayload::pop(payload) : payload;
}

bool Router::filter_accepts_slow(ColorState& cs, const Wavelet& w) {
  const FilterConfig& f = cfg_[slot_of(cs)].filter;
  ColorStats& st = stats_[slot_of(cs)];
  switch (f.kind) {
    case FilterKind::None:
      return true;
    case FilterKind::Range:
      return w.control || (w.index() >= f.min_index && w.index() <= f.max_index);
    case FilterKind::Counter:
    case FilterKind::SparseCounter: {
      if (st.filter_phase >= 2) return true;  // sparse counter disabled itself
      const std::uint16_t before = st.filter_counter;
      const bool accept = w.control ? (!f.filter_control || before == f.max_counter) : before <= f.max_counter;
      if (w.control ? f.count_control : f.count_data) {
        const std::uint16_t limit = (f.kind == FilterKind::SparseCounter && st.filter_phase == 1) ? f.limit2 : f.limit1;
        if (st.filter_counter >= limit) {
          st.filter_counter = 0;
          if (f.kind == FilterKind::SparseCounter) ++st.filter_phase;
        } else {
          ++st.filter_counter;
        }
      }
      return accept;
    }
  }
  return true;
}

}  // namespace wafersim::hw
