// The fabric engine's state, as the pieces that own and change it (Engine, Fabric::impl_): the RAMP deliveries, the agent
// schedule, the router phase, the host-thread bands and the cycle blocks, plus what the run loop keeps between
// steps. Internal to fabric/; fabric.hpp is the public API.
#pragma once
#include "fabric/agent_schedule.hpp"
#include "fabric/cycle_block.hpp"
#include "fabric/fabric.hpp"
#include "fabric/host_bands.hpp"
#include "fabric/ramp_deliveries.hpp"
#include "fabric/router_phase.hpp"

namespace wafersim::fabric {

namespace engine {

struct Engine {
  Engine(Mesh& m, const hw::ArchParams& a) : mesh(m), arch(a), agents(m.routers.size()), routers(m, agents) {}

  Mesh& mesh;
  const hw::ArchParams& arch;

  RampDeliveries ramp;
  AgentSchedule agents;
  RouterPhase routers;
  HostBands bands;
  CycleBlocks blocks;

  // The run loop's view of the last step (next_event, stuck).
  Cycle last_progress = 0;
  Cycle stuck_since = 0;          // last progress before the watchdog fired (for the report)
  Cycle earliest_ready = kNever;  // earliest head not yet ready among routers evaluated in the last cycle
  bool any_ready = false;         // some head was ready in the last cycle (moved or stalled), or a queue changed
  bool frozen = false;            // the last simulated cycle moved nothing: only timed events can change that
  bool validated = false;

  // Routers activated for the next cycle: by agents and the host (routers.next_active) and by the router phase
  // (lanes).
  std::size_t pending_activations() const {
    std::size_t n = routers.next_active.size();
    for (const Lane& lane : bands.lanes) n += lane.activated.size();
    return n;
  }
  // Ends a step over cycles .. last, whose last progress was at last_progress_cycle (kNever: none).
  void end_step(Stats& stats, Cycle last_progress_cycle, Cycle last) {
    frozen = last_progress_cycle != last;
    if (last_progress_cycle != kNever) {
      last_progress = last_progress_cycle;
      stats.cycles = last_progress_cycle + 1;
    }
  }
};

}  // namespace engine
}  // namespace wafersim::fabric
