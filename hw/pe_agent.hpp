// What sits behind a router's RAMP: the compute engine of a PE, or a test/benchmark traffic driver.
// The fabric engine steps an agent only in cycles it asked for or when one of its queues changed; an agent
// with nothing to do costs nothing.
#pragma once
#include <ostream>

#include "hw/pe_queues.hpp"
#include "hw/wavelet.hpp"

namespace wafersim::hw {

class PeAgent {
 public:
  virtual ~PeAgent() = default;

  // Runs the agent at cycle `now`, after the routers have moved this cycle's wavelets (so a wavelet an agent
  // pushes into an output queue leaves with the router at now+1 at the earliest). Returns the next cycle the
  // agent wants to run (> now), or kNever to sleep until a queue event: a wavelet delivered into one of its
  // input queues or a word leaving one of its output queues that was full (the only change an agent can wait for
  // on that side).
  virtual Cycle step(Cycle now, PeQueues& queues) = 0;

  // True while the agent has unfinished work; the run is complete when no agent is busy and no wavelet is in
  // flight, and a deadlock when work is pending but nothing has moved for the configured number of cycles.
  virtual bool busy() const = 0;

  // The router put colour c into teardown (a TEARDOWN command passed, or the colour started in teardown):
  // the CE runs its teardown task (ID 29), which reconfigures and leaves teardown (Transport::exit_teardown). Called after the
  // router phase; for an isolated agent, before this cycle's RAMP deliveries have reached its input queues.
  virtual void on_teardown(Color c, Cycle now) {}

  // True if step() and on_teardown() touch nothing but this agent's own state and its own PeQueues (no
  // Fabric::wake, no state shared with other agents): the fabric may then run them on a host thread concurrently
  // with other isolated agents (in PE order with one thread: the outcome does not depend on the thread count).
  // Traffic drivers are; compute engines are unless their program says otherwise (ComputeEngine::isolated).
  virtual bool isolated() const { return false; }

  // One line on what the agent waits for, for deadlock reports ("task 3 fmacs waits on IQ 2 (colour 5)").
  virtual void describe_wait(std::ostream& os) const { os << (busy() ? "busy" : "idle"); }
};

// An agent that can start fetching the memory its next step will touch: the engine's passes over due agents call
// prefetch() one agent ahead (compute engines, the bench's traffic drivers). A host-speed hint that never changes
// behaviour, hence not part of PeAgent.
class PrefetchingAgent : public PeAgent {
 public:
  virtual void prefetch(const PeQueues& queues) const = 0;
};

}  // namespace wafersim::hw
