// The mesh of PEs as a plain C++ cycle-level model: routers with per-colour buffers and credit back-pressure,
// links with latency, RAMP queues to the compute engines, and an activity-driven engine that steps only
// routers holding wavelets and agents that asked to run, skipping idle cycles. SystemC wraps this (wafer.hpp)
// for hierarchy, time and tracing; tests and benchmarks may drive it directly. Firmware sees it through
// fabric::Transport (transport.hpp). The engine's pieces are internal (engine.hpp; docs/architecture.md).
// Not modelled: faulty-PE remapping, colour swap, dynamic (header-based) routing.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "fabric/mesh.hpp"
#include "fabric/stats.hpp"
#include "fabric/transport.hpp"
#include "hw/arch_params.hpp"

namespace wafersim::fabric {

using hw::Color;
using hw::Cycle;

namespace engine {
struct Engine;
}

enum class DataMode { Functional, TimingOnly };

// Observer of link traffic (VCD tracing). Called only for links whose router was registered as traced.
class LinkObserver {
 public:
  virtual ~LinkObserver() = default;
  // A wavelet leaves router `pe` through `out` at cycle `now` (out == RAMP: delivered to the CE).
  virtual void on_send(int pe, hw::Dir out, const hw::Wavelet& w, Cycle now) = 0;
  // A wavelet waiting for output `out` could not leave because the receiver had no room.
  virtual void on_stall(int pe, hw::Dir out, Color c, Cycle now) = 0;
  // Called once per simulated cycle in which any traced router was active, after the cycle's moves.
  virtual void on_cycle_end(Cycle now) = 0;
};

// hw::PrefetchingAgent under the name the fabric's agents (bench/traffic.cpp) use.
using PrefetchingAgent = hw::PrefetchingAgent;

struct RunResult {
  Cycle cycles = 0;        // simulated cycles until completion (or the limit)
  bool completed = false;  // false: stopped by the cycle limit
};

class Fabric final : public Transport, private hw::QueueListener {
 public:
  Fabric(const hw::ArchParams& arch, int width, int height, DataMode mode = DataMode::Functional);
  ~Fabric() override;
  Fabric(const Fabric&) = delete;
  Fabric& operator=(const Fabric&) = delete;

  int width() const override { return mesh_.width; }
  int height() const override { return mesh_.height; }
  int num_pes() const { return mesh_.num_pes(); }
  int index(int x, int y) const { return y * mesh_.width + x; }
  const hw::ArchParams& arch() const override { return arch_; }
  DataMode data_mode() const { return mode_; }

  // Routing (layout time). Checked by validate_routes(), which run() calls first.
  void set_color_config(int x, int y, Color c, const hw::ColorConfig& cfg) override;
  void reserve_colors(int x, int y, int n) override;
  const hw::ColorConfig& color_config(int x, int y, Color c) const override;
  // Throws ConfigError naming the PE and colour: routes off the mesh edge, an rx set that can receive the
  // colour from two directions at once, colours beyond the routable range.
  void validate_routes() const;
  // Ends layout: validates the routes and packs the routers' state in PE order for the engine. run() and
  // run_until() do it when routes changed since the last call; benchmarks call it to keep it out of the timing.
  void prepare();

  hw::Router& router(int x, int y) { return mesh_.routers[index(x, y)]; }
  const hw::Router& router(int x, int y) const { return mesh_.routers[index(x, y)]; }
  void reconfigure_color(int x, int y, Color c, const hw::ColorConfig& cfg) override;
  // The CE's teardown handler calls this after reconfiguring: colour c flows again at PE (x, y).
  void exit_teardown(int x, int y, Color c) override;

  hw::PeQueues& queues(int x, int y) override;  // allocated on first use
  hw::Sram& sram(int x, int y) override;        // allocated on first use (contents lazily in functional mode)
  bool has_sram(int x, int y) const override { return mesh_.srams[index(x, y)] != nullptr; }

  // The agent behind a PE's RAMP (compute engine or traffic driver); not owned. It first runs at `start`.
  void attach_agent(int x, int y, hw::PeAgent* agent, Cycle start = 0) override;
  hw::PeAgent* agent(int x, int y) const { return mesh_.agents[index(x, y)]; }
  void wake(int pe, Cycle at) override;  // schedules an extra agent step

  // Runs until no agent is busy and no wavelet is in flight, or until `max_cycles` have been simulated since
  // the start of this call. Throws DeadlockError with a report (stuck PEs, colours, queues) when work is
  // pending but nothing has moved for arch.simulation.deadlock_cycles cycles.
  RunResult run(Cycle max_cycles = hw::kNever);
  // Advances exactly to the end of cycle `until` (used by the SystemC engine and tests).
  void run_until(Cycle until);
  // The earliest cycle >= now() at which anything can happen (kNever if nothing is pending).
  Cycle next_event() const;
  bool idle() const;  // nothing pending at all
  Cycle now() const override { return now_; }

  const Stats& stats() const { return stats_; }
  std::string deadlock_report() const;

  void set_observer(LinkObserver* obs, const std::vector<int>& traced_pes);

 private:
  void on_input_popped(int pe, int q) override;
  void on_output_pushed(int pe) override;
  // Throws std::logic_error if an isolated agent is stepping (it may not change a router).
  void check_not_isolated(int x, int y, const char* what) const;
  void step(Cycle last);   // the cycle now(), or a block of cycles up to `last` (engine::CycleBlocks::length)
  void step_cycle();       // cycle_step.cpp
  void step_block(int k);  // cycles now() .. now()+k-1 in one sweep (cycle_block.cpp)
  bool stuck(Cycle next_event_cycle);  // deadlock watchdog; moves now() to the cycle it fired (deadlock_report.cpp)

  hw::ArchParams arch_;
  DataMode mode_;
  Cycle now_ = 0;
  Mesh mesh_;
  Stats stats_;
  std::unique_ptr<engine::Engine> impl_;
};

}  // namespace wafersim::fabric
