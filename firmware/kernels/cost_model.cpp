#include "firmware/kernels/cost_model.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "firmware/kernels/collective_module.hpp"

namespace wafersim::kernels {

namespace {

// Walks the plan from the launched leaves to every receiver, memoising when each PE pushes its first element.
struct CriticalPath {
  const LinePlan& plan;
  const hw::ArchParams& arch;
  bool tie_penalty;  // two first elements arriving together: the RAMP's round robin may delay the first
  std::uint32_t n;   // elements (a staged join absorbs its first input, all n, before the second flows)
  std::map<int, hw::Cycle> emit_memo;

  hw::Cycle stream_latency(int hops) const {
    return 2u * arch.router.ramp_latency + arch.router.router_latency + hw::Cycle(hops) * arch.router.hop_latency();
  }
  const LineRoute& route(int p, Color c) const {
    for (const LineRoute& r : plan.routes())
      if (r.pos == p && r.color == c) return r;
    throw std::logic_error("cost model: no route of colour " + std::to_string(c) + " at line position " +
                           std::to_string(p));
  }
  // First element of colour c reaches PE p's microthread.
  hw::Cycle arrival(int p, Color c) {
    int q = p, hops = 0;
    while (!(route(q, c).rx & kRamp)) {
      q += (route(q, c).rx & kLow) ? -1 : 1;
      ++hops;
    }
    return emit(q) + stream_latency(hops);
  }
  // The PE pushes the first element of its out stream.
  hw::Cycle emit(int p) {
    if (auto it = emit_memo.find(p); it != emit_memo.end()) return it->second;
    const StreamNode& n = plan.node(p);
    hw::Cycle t = arch.pe.task_switch_cycles + arch.pe.dsd_issue_cycles;  // launched at cycle 0
    if (n.staged) {
      t = std::max(arrival(p, n.inputs[0]) + this->n, arrival(p, n.inputs[1]));
    } else if (!n.inputs.empty()) {
      t = arrival(p, n.inputs[0]);
      for (std::size_t i = 1; i < n.inputs.size(); ++i) {
        const hw::Cycle ti = arrival(p, n.inputs[i]);
        if (ti == t && tie_penalty) ++t;  // both want the RAMP in the same cycle: one waits a cycle
        t = std::max(t + stream_latency(0), ti);
      }
    }
    return emit_memo[p] = t;
  }
  // Cycle of the last element's arrival anywhere.
  hw::Cycle last(std::uint32_t n) {
    hw::Cycle t = 0;
    for (int p = 0; p < plan.size(); ++p) {
      const StreamNode& nd = plan.node(p);
      if (nd.receive != kNoColor) t = std::max(t, arrival(p, nd.receive));
      else if (nd.sends) t = std::max(t, emit(p));
    }
    return t + n - 1;
  }
};

}  // namespace

std::pair<hw::Cycle, hw::Cycle> predicted_cycles(const CollectiveLayout& c, const hw::ArchParams& arch,
                                                 std::uint32_t n) {
  // The CE's completion of the last op activates a task (picked the next cycle, which runs task_switch cycles):
  // the fabric's last busy cycle is task_switch after the last element, and cycles count up to it inclusive.
  // The next phase is launched by that task: its first task_switch cycles are the previous phase's tail.
  if (!has_cost_model(c)) throw std::logic_error("cost model: the ring allreduce has none");
  const hw::Cycle tail = hw::Cycle(arch.pe.task_switch_cycles) + 1;
  std::pair<hw::Cycle, hw::Cycle> total{0, 0};
  for (std::size_t i = 0; i < c.phases.size(); ++i) {
    CriticalPath best{c.phases[i]->line, arch, false, n, {}}, worst{c.phases[i]->line, arch, true, n, {}};
    const hw::Cycle shared = i == 0 ? 0 : arch.pe.task_switch_cycles;
    total.first += best.last(n) + tail - shared;
    total.second += worst.last(n) + tail - shared;
  }
  return total;
}

bool has_cost_model(const CollectiveLayout& c) {
  return !c.phases.empty() &&
         std::none_of(c.phases.begin(), c.phases.end(), [](const auto& p) { return p->kind == Collective::Ring; });
}

bool cost_model_exact(const CollectiveLayout& c) {
  if (!has_cost_model(c) || c.phases.size() != 1) return false;
  const LinePlan& line = c.phases[0]->line;
  for (int p = 0; p < line.size(); ++p)
    if (line.node(p).staged) return false;
  return true;
}

}  // namespace wafersim::kernels
