#include "fabric/agent_schedule.hpp"

namespace wafersim::fabric::engine {


AgentSchedule::AgentSchedule(std::size_t n) {
  next_wake.assign(n, kNever);
  due_bits.assign((n + 63) / 64, 0);
  due_words.assign((n + 4095) / 4096, 0);
  agent_kind.assign(n, 0);
}

void AgentSchedule::attach(Mesh& mesh, int pe, hw::PeAgent* agent) {
  if (!mesh.agents[pe]) agent_pes.push_back(pe);
  const bool shared = agent && !agent->isolated();
  shared_agents += int(shared) - int(agent_kind[pe] & kShared);
  agent_kind[pe] = std::uint8_t((shared ? kShared : 0) | (dynamic_cast<PrefetchingAgent*>(agent) ? kPrefetching : 0));
  mesh.agents[pe] = agent;
}

void AgentSchedule::load_far_wakes(Cycle now) {
  horizon = now;
  while (!far_wakes.empty() && far_wakes.top().at < now + kWheel) {
    const Wake wk = far_wakes.top();
    far_wakes.pop();
    wheel[wk.at % kWheel].push_back(wk.pe);
    ++wheel_entries;
  }
}

Cycle AgentSchedule::earliest_wake() const {
  Cycle t = far_wakes.empty() ? kNever : far_wakes.top().at;
  if (wheel_entries > 0) {
    for (Cycle c = horizon; c < horizon + kWheel && c < t; ++c)
      if (!wheel[c % kWheel].empty()) return c;
  }
  return t;
}

}  // namespace wafersim::fabric::engine
