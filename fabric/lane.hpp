// What one host thread's share of a cycle produced (a "lane"), and the one rule for merging lanes: in lane order,
// which is PE order, so the outcome of a cycle does not depend on how many host threads computed it.
// Internal to the fabric engine.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "fabric/stats.hpp"
#include "hw/router.hpp"
#include "hw/wavelet.hpp"

namespace wafersim::fabric::engine {

using hw::Color;
using hw::Cycle;
using hw::kNever;

// A wavelet crossing the RAMP: it enters the input queue of `pe` at cycle `at`.
struct Delivery {
  Cycle at;
  int pe;
  hw::Wavelet w;
};
// The head wavelet of colour c at router `pe` left through all its outputs: its slot is released.
struct Free {
  int pe;
  Color c;
};
// An agent's next step.
struct Wake {
  Cycle at;
  int pe;
  bool operator>(const Wake& o) const { return at != o.at ? at > o.at : pe > o.pe; }
};

struct Lane {
  std::vector<Free> frees;          // data wavelets done: slots released during the sweep when safe, else after
  std::vector<Free> late_frees;     // data frees of routers next to a boundary: released after the phase
  std::vector<Free> control_frees;  // control wavelets (they move switches): after the phase, in PE order
  std::vector<Delivery> deliveries;
  std::vector<int> wakes;           // agents to wake: the router took a word from a full output queue
  std::vector<int> activated;       // routers to evaluate next cycle
  std::uint64_t hops = 0, stalls = 0, injections = 0, filtered = 0, evaluated = 0;
  std::array<std::uint64_t, hw::kMaxColors> color_hops{}, color_stalls{};
  Cycle earliest_ready = kNever;    // earliest head not yet ready
  bool any_ready = false;           // some head was ready (moved or stalled)
  bool progress = false;
  std::size_t free_head = 0;        // frees before it were released during the sweep (or moved to late_frees)
  // Sends and stalls at traced routers, handed to the LinkObserver after the phase in lane (PE) order.
  struct TraceEvent {
    int pe;
    hw::Dir out;
    bool stall;
    hw::Wavelet w;  // for a stall only the colour
  };
  std::vector<TraceEvent> trace;
  std::vector<Wake> schedules;      // agent phase: next steps the agents stepped by this lane asked for
  std::uint64_t steps = 0;          // agent phase: agents stepped
  bool queue_events = false;        // agent phase: an agent pushed or popped a queue word
  std::uint64_t delivered = 0;      // cycle blocks: RAMP deliveries that reached their input queues
  bool any_free = false;            // some wavelet left its router for good
  Cycle now = 0;                    // the cycle this lane simulates

  void reset(Cycle cycle) {  // keeps the vectors' capacity; `activated` is emptied by whoever collects it
    now = cycle;
    frees.clear();
    late_frees.clear();
    control_frees.clear();
    deliveries.clear();
    wakes.clear();
    trace.clear();
    schedules.clear();
    hops = stalls = injections = filtered = evaluated = steps = delivered = 0;
    color_hops.fill(0);
    color_stalls.fill(0);
    earliest_ready = kNever;
    any_ready = progress = queue_events = any_free = false;
    free_head = 0;
  }
};

// A cycle's outcome, merged from its lanes.
struct CycleOutcome {
  bool progress = false;   // something moved, was consumed, delivered or stepped
  bool any_ready = false;  // some head was ready, or a slot or queue word changed: look again next cycle
  bool traced = false;     // a traced router sent or stalled
  Cycle earliest_ready = kNever;
};

// Merges the router phase of one lane of a cycle (lanes in lane order): its statistics and outcome.
inline void merge_router_lane(const Lane& lane, Stats& s, CycleOutcome& out) {
  s.router_cycles += lane.evaluated;
  s.wavelet_hops += lane.hops;
  s.stall_cycles += lane.stalls;
  s.ramp_injections += lane.injections;
  s.filtered += lane.filtered;
  for (int c = 0; c < hw::kMaxColors; ++c) {
    s.color_hops[c] += lane.color_hops[c];
    s.color_stalls[c] += lane.color_stalls[c];
  }
  // A wavelet that left its router for good is progress (a filter may consume it without any send), and its
  // freed slot may let a waiting neighbour move next cycle.
  const bool freed = lane.any_free || !lane.frees.empty() || !lane.control_frees.empty();
  out.progress |= lane.progress || freed;
  out.any_ready |= lane.any_ready || freed;
  out.traced |= !lane.trace.empty();
  out.earliest_ready = std::min(out.earliest_ready, lane.earliest_ready);
}

// Merges the agent phase of one lane (lanes in lane order): deliveries made, agents stepped, the next steps they
// asked for (handed to schedule(pe, at)), queue events (the routers must look again next cycle).
template <class Schedule>
void merge_agent_lane(const Lane& lane, Stats& s, CycleOutcome& out, Schedule&& schedule) {
  s.ramp_deliveries += lane.delivered;
  s.agent_steps += lane.steps;
  out.progress |= lane.delivered > 0 || lane.steps > 0;
  out.any_ready |= lane.queue_events;
  for (const Wake& w : lane.schedules) schedule(w.pe, w.at);
}

}  // namespace wafersim::fabric::engine
