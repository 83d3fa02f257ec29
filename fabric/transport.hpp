// The seam between firmware and the fabric engine: what a layout, a program and the host runtime need of the
// mesh that carries their wavelets (routes, the PEs' queues and SRAM, agents and their wake-ups, the clock).
// fabric::Fabric, the cycle-level engine, is the one implementation today; a message-level or analytic transport
// can implement the same interface without touching firmware (docs/architecture.md, "The transport seam").
#pragma once
#include "hw/arch_params.hpp"
#include "hw/pe_agent.hpp"
#include "hw/pe_queues.hpp"
#include "hw/route_config.hpp"
#include "hw/sram.hpp"

namespace wafersim::fabric {

class Transport {
 public:
  virtual ~Transport() = default;

  virtual const hw::ArchParams& arch() const = 0;
  virtual int width() const = 0;
  virtual int height() const = 0;
  int num_pes() const { return width() * height(); }
  int index(int x, int y) const { return y * width() + x; }
  virtual hw::Cycle now() const = 0;  // the cycle being simulated (or the last one)

  // Routes (layout time): checked before the run starts.
  virtual void set_color_config(int x, int y, hw::Color c, const hw::ColorConfig& cfg) = 0;
  virtual const hw::ColorConfig& color_config(int x, int y, hw::Color c) const = 0;
  // A host-memory hint before a PE's routes are set: `n` colour configs follow for PE (x, y). A layout gives it
  // PE by PE, so a transport can allocate each PE's route state once, in PE order. Default: nothing.
  virtual void reserve_colors(int x, int y, int n) {
    (void)x, (void)y, (void)n;
  }
  // Inside a PE's teardown handler: reconfigure colour c of its router (resets switch and filter state; no route
  // check: the firmware is responsible), then let the colour flow again.
  virtual void reconfigure_color(int x, int y, hw::Color c, const hw::ColorConfig& cfg) = 0;
  virtual void exit_teardown(int x, int y, hw::Color c) = 0;

  // The PE's side of the RAMP and its memory.
  virtual hw::PeQueues& queues(int x, int y) = 0;  // allocated on first use
  virtual hw::Sram& sram(int x, int y) = 0;        // allocated on first use
  virtual bool has_sram(int x, int y) const = 0;

  // The agent behind a PE's RAMP (not owned); it first runs at `start`, then when it asks or a queue changes.
  virtual void attach_agent(int x, int y, hw::PeAgent* agent, hw::Cycle start) = 0;
  // Schedules an extra step of the agent at PE index `pe` at cycle `at` (>= now).
  virtual void wake(int pe, hw::Cycle at) = 0;
};

}  // namespace wafersim::fabric
