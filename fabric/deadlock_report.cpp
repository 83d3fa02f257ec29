// The deadlock watchdog (work pending but nothing moved for simulation.deadlock_cycles cycles) and its report:
// the stuck PEs, their colours, queues and what each busy agent waits for.
#include <sstream>

#include "fabric/engine.hpp"

namespace wafersim::fabric {

using hw::bit;
using hw::Dir;
using hw::DirMask;
using hw::kNever;
using hw::Router;

bool Fabric::stuck(Cycle t) {
  engine::Engine& m = *impl_;
  // An agent step or a ramp delivery due at t is progress: agents may legitimately sleep for long.
  if (t != kNever && ((m.agents.has_wakes() && m.agents.earliest_wake() <= t) || (m.ramp.pending() && m.ramp.next() <= t)))
    return false;
  const Cycle limit = m.last_progress + arch_.simulation.deadlock_cycles;
  if (t != kNever && t < limit) return false;
  // The report speaks of the cycle at which the watchdog fired; a caller that repairs the cause (e.g. exits a
  // teardown) may run on from there.
  now_ = limit;
  m.stuck_since = m.last_progress;
  m.last_progress = limit;
  m.agents.horizon = std::max(m.agents.horizon, limit);
  return true;
}

std::string Fabric::deadlock_report() const {
  const engine::Engine& m = *impl_;
  const int w = width();
  std::ostringstream os;
  os << "deadlock: nothing moved for " << arch_.simulation.deadlock_cycles << " cycles (last progress at cycle "
     << m.stuck_since << ", reported at cycle " << now_ << ") while work is pending\n";
  int lines = 0;
  const int max_lines = 40;
  auto more = [&] { return ++lines <= max_lines; };
  for (int pe = 0; pe < num_pes(); ++pe) {
    const Router& r = mesh_.routers[pe];
    const int x = pe % w, y = pe / w;
    for (const auto& cs : r.colors()) {
      if (cs.size == 0) continue;
      if (!more()) continue;
      const Router::Entry& e = r.front(cs);
      os << "  " << pe_name(x, y) << " colour " << int(cs.color) << ": " << int(cs.size)
         << " wavelet(s) buffered, switch position " << int(cs.position) << (cs.teardown ? " (in teardown)" : "");
      const DirMask pend = e.pending == Router::kUnresolved ? cs.tx() : e.pending;
      os << ", head waits for " << hw::dir_mask_string(pend);
      if (pend & bit(Dir::Ramp)) {
        const hw::PeQueues* q = mesh_.queues[pe].get();
        const int iq = q ? q->input_queue_of(cs.color) : hw::kUnbound;
        if (iq == hw::kUnbound) os << " (no input queue bound to colour " << int(cs.color) << ")";
        else os << " (IQ " << iq << " holds " << q->iq(iq).size() << "/" << q->iq(iq).capacity() << ")";
      }
      os << "\n";
    }
    if (const hw::PeQueues* q = mesh_.queues[pe].get()) {
      for (int oq = 0; oq < q->num_output_queues(); ++oq) {
        if (q->oq(oq).empty() || !more()) continue;
        const Color c = q->oq(oq).front().color;
        os << "  " << pe_name(x, y) << " OQ " << oq << ": " << q->oq(oq).size() << " word(s), head colour "
           << int(c) << (r.color_config(c) ? " waits for room at the router" : " has no route at this PE") << "\n";
      }
    }
    if (mesh_.agents[pe] && mesh_.agents[pe]->busy() && more()) {
      os << "  " << pe_name(x, y) << " compute engine: ";
      mesh_.agents[pe]->describe_wait(os);
      os << "\n";
    }
  }
  if (lines > max_lines) os << "  ... and " << (lines - max_lines) << " more\n";
  return os.str();
}

}  // namespace wafersim::fabric
