// One simulated cycle (Fabric::step_cycle), as its phases in order: the RAMP deliveries due, the router phase in
// bands on the host threads, the merge of the bands' lanes, the frees and switch moves, the agent phase.
#include "fabric/engine.hpp"

namespace wafersim::fabric {

using engine::Lane;
using hw::kNever;

void Fabric::step_cycle() {
  engine::Engine& m = *impl_;
  engine::HostBands& hb = m.bands;
  const Cycle now = now_;
  m.routers.begin_step(arch_, now, now);

  // 1. Wavelets reaching input queues over the RAMP this cycle, taken off the list: they enter the queues in the
  // agent phase (the routers' room check, iq_room, counts them either way).
  const auto [due_first, due_last] = m.ramp.take_due(now);
  const std::size_t n_due = due_last - due_first;

  // 2. Routers: injections from output queues, then every output port serves one colour (round robin), in bands of
  // rows on the host threads (HostBands::plan), then the rows between bands.
  m.routers.collect_active(hb.lanes);
  const int threads = engine::HostBands::host_threads(arch_, m.routers.active.size());
  hb.plan(mesh_, m.routers.active, threads, now);
  const int n_bands = int(hb.bands.size()), n_lanes = hb.n_lanes();
  if (n_bands > 1) {
    hb.ensure_pool(threads, n_bands);
    hb.pool->run([&](int band) {
      if (band < n_bands) hb.sweep(m.routers, 2 * band);
    });
    for (int li = 1; li < n_lanes; li += 2) hb.sweep(m.routers, li);
  } else {
    hb.sweep(m.routers, 0);
  }

  // 3. The lanes merged in PE order: statistics, traced link events, RAMP sends.
  engine::CycleOutcome out;
  out.progress = n_due > 0;
  for (int li = 0; li < n_lanes; ++li) {
    const Lane& lane = hb.lanes[li];
    engine::merge_router_lane(lane, stats_, out);
    for (const auto& ev : lane.trace) {
      if (ev.stall) m.routers.observer->on_stall(ev.pe, ev.out, ev.w.color, now);
      else m.routers.observer->on_send(ev.pe, ev.out, ev.w, now);
    }
    m.ramp.append(lane.deliveries);
  }
  m.any_ready = out.any_ready;  // queue events from here on (teardown handlers, agents) add to these
  m.earliest_ready = out.earliest_ready;

  // Agents due this cycle: the wheel's slot, the deliveries' wake-ups, the lanes' injection wake-ups. With isolated
  // agents only, agents step in PE order, in parallel in ranges of PEs aligned to the due bitmap's words (the
  // bands' rows, rounded); the outcome is that of stepping them one by one.
  engine::AgentSchedule& agents = m.agents;
  agents.load_far_wakes(now);  // wheel slots are relative to the cycle being simulated
  std::vector<int>& due = agents.slot(now);  // teardown handlers below may still add to it
  const bool isolated = agents.all_isolated();
  std::size_t work = n_due + due.size();
  for (int li = 0; li < n_lanes; li += 2) work += hb.lanes[li].wakes.size();
  const bool parallel_agents = isolated && n_bands > 1 && work >= 2 * std::size_t(n_bands);
  const auto chunk_lo = [&](int t) { return t == 0 ? 0 : t == n_bands ? num_pes() : hb.bands[t].pe_lo & ~63; };
  const engine::Delivery* due_deliveries = m.ramp.list.data() + due_first;

  // Compute engines: the deliveries enter their queues before teardown handlers and agents run, in PE order; an
  // engine they wake is due (isolated agents get theirs in AgentSchedule::pass). Then the engines waiting for room
  // in an output queue the router took a word from.
  if (!isolated) {
    agents.delivery_wakes.clear();
    for (std::size_t i = 0; i < n_due; ++i)
      if (agents.deliver(mesh_, due_deliveries[i], now)) agents.delivery_wakes.push_back(due_deliveries[i].pe);
  }
  agents.inject_wakes.clear();
  for (int li = 0; li < n_lanes; li += 2) {
    for (int pe : hb.lanes[li].wakes) {
      if (!agents.wake_now(pe, now)) continue;
      if (isolated) agents.mark_due(pe);
      else agents.inject_wakes.push_back(pe);
    }
  }

  // 4. Wavelets that left through all their outputs free their slot; control wavelets move the switch, in PE order.
  for (int li = 0; li < n_lanes; ++li) {
    if (parallel_agents && li % 2 == 0) continue;  // released by the band's thread in the agent phase
    m.routers.release_rest(hb.lanes[li]);
  }
  for (int li = 0; li < n_lanes; ++li)
    for (const auto& fr : hb.lanes[li].control_frees) m.routers.release_control(fr, now);

  // 5. Deliveries and agents due this cycle.
  agents.in_agent_phase = true;
  agents.wheel_entries -= due.size();
  if (isolated) {
    for (int pe : due)
      if (agents.current(pe, now)) agents.mark_due(pe);
  }
  engine::CycleOutcome agent_out;
  const auto to_wheel = [&](int p, Cycle at) { agents.schedule(p, at); };  // horizon == now
  if (parallel_agents) {
    // Each band also releases its remaining frees (agents do not see router buffers); next steps, activations and
    // queue events are merged in band order.
    hb.pool->run([&](int t) {
      if (t >= n_bands) return;
      Lane& lane = hb.lanes[2 * t];
      m.routers.release_rest(lane);
      const engine::AgentSchedule::LaneScope scope(&lane);
      lane.steps = agents.pass(mesh_, due_deliveries, n_due, chunk_lo(t), chunk_lo(t + 1), now,
                               [&](int p, Cycle at) { lane.schedules.push_back({at, p}); });
    });
    for (int t = 0; t < n_bands; ++t) engine::merge_agent_lane(hb.lanes[2 * t], stats_, agent_out, to_wheel);
  } else if (isolated) {
    const std::uint64_t steps = agents.pass(mesh_, due_deliveries, n_due, 0, num_pes(), now, to_wheel);
    stats_.agent_steps += steps;
    agent_out.progress = steps > 0;
  } else {
    // Compute engines in due order: the wheel's slot, the deliveries' wake-ups, the injections' wake-ups; wake()
    // never adds to these lists during the agent phase.
    const auto step_list = [&](const std::vector<int>& list) {
      for (std::size_t i = 0; i < list.size(); ++i) {
        engine::AgentSchedule::prefetch_agent(mesh_, list, i);
        if (agents.step_agent(mesh_, list[i], now, to_wheel)) {
          ++stats_.agent_steps;
          agent_out.progress = true;
        }
      }
    };
    step_list(due);
    step_list(agents.delivery_wakes);
    step_list(agents.inject_wakes);
  }
  stats_.ramp_deliveries += n_due;
  if (agent_out.any_ready) m.any_ready = true;
  if (isolated) std::fill(agents.due_words.begin(), agents.due_words.end(), 0);
  m.ramp.compact();
  due.clear();
  agents.in_agent_phase = false;
  hb.adapt_band_shares(n_bands);
  agents.horizon = now + 1;

  if (out.traced && m.routers.observer) m.routers.observer->on_cycle_end(now);
  m.end_step(stats_, out.progress || agent_out.progress ? now : kNever, now);
}

}  // namespace wafersim::fabric
