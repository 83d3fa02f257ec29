#include "hw/router.hpp"

namespace wafersim::hw {

void Router::set_color_config(Color c, const ColorConfig& cfg) {
  if (slot_[c] < 0) {
    slot_[c] = static_cast<std::int8_t>(colors_.size());
    colors_.emplace_back();
  }
  ColorState& cs = colors_[slot_[c]];
  cs.cfg = cfg;
  cs.color = c;
  cs.position = cfg.initial_position;
  cs.teardown = cfg.teardown;
  cs.filter_phase = 0;
  cs.filter_counter = cfg.filter.init_counter;
}

void Router::exit_teardown(Color c) {
  if (ColorState* cs = state(c)) cs->teardown = false;
}

bool Router::apply_control(ColorState& cs, std::uint32_t payload) {
  const ControlPayload p = ControlPayload::decode(payload);
  switch (p.cmd[0]) {
    case SwitchCmd::Nop:
      return false;
    case SwitchCmd::Advance: {
      const int last = cs.cfg.last_valid_position();
      if (cs.position < last) ++cs.position;
      else if (cs.cfg.ring_mode) cs.position = 0;
      return false;
    }
    case SwitchCmd::Reset:
      cs.position = 0;
      return false;
    case SwitchCmd::Teardown:
      cs.teardown = true;
      return true;
  }
  return false;
}

std::uint32_t Router::forwarded_payload(const ColorState& cs, std::uint32_t payload) {
  const SwitchCmd cmd = ControlPayload::decode(payload).cmd[0];
  bool pop = false;
  switch (cs.cfg.pop_mode) {
    case PopMode::NoPop: pop = false; break;
    case PopMode::AlwaysPop: pop = true; break;
    case PopMode::PopOnAdvance: pop = cmd == SwitchCmd::Advance; break;
    case PopMode::PopOnAdvanceNop: pop = cmd == SwitchCmd::Advance || cmd == SwitchCmd::Nop; break;
  }
  return pop ? ControlPayload::pop(payload) : payload;
}

bool Router::filter_accepts(ColorState& cs, const Wavelet& w) {
  const FilterConfig& f = cs.cfg.filter;
  switch (f.kind) {
    case FilterKind::None:
      return true;
    case FilterKind::Range:
      return w.control || (w.index() >= f.min_index && w.index() <= f.max_index);
    case FilterKind::Counter:
    case FilterKind::SparseCounter: {
      if (cs.filter_phase >= 2) return true;  // sparse counter disabled itself
      const std::uint16_t before = cs.filter_counter;
      bool accept;
      if (w.control) accept = !f.filter_control || before == f.max_counter;
      else accept = before <= f.max_counter;
      const bool counts = w.control ? f.count_control : f.count_data;
      if (counts) {
        const std::uint16_t limit = (f.kind == FilterKind::SparseCounter && cs.filter_phase == 1) ? f.limit2 : f.limit1;
        if (cs.filter_counter >= limit) {
          cs.filter_counter = 0;
          if (f.kind == FilterKind::SparseCounter) ++cs.filter_phase;
        } else {
          ++cs.filter_counter;
        }
      }
      return accept;
    }
  }
  return true;
}

}  // namespace wafersim::hw
