// The mesh of PEs as a plain C++ cycle-level model: routers with per-colour buffers and credit back-pressure,
// links with latency, RAMP queues to the compute engines, and an activity-driven engine that steps only
// routers holding wavelets and agents that asked to run, skipping idle cycles. SystemC wraps this (wafer.hpp)
// for hierarchy, time and tracing; tests and benchmarks may drive it directly.
// Not modelled: faulty-PE remapping, colour swap, dynamic (header-based) routing.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fabric/stats.hpp"
#include "hw/arch_params.hpp"
#include "hw/pe_agent.hpp"
#include "hw/pe_queues.hpp"
#include "hw/route_config.hpp"
#include "hw/router.hpp"
#include "hw/sram.hpp"

namespace wafersim::fabric {

using hw::Color;
using hw::Cycle;

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

struct RunResult {
  Cycle cycles = 0;        // simulated cycles until completion (or the limit)
  bool completed = false;  // false: stopped by the cycle limit
};

class Fabric : private hw::QueueListener {
 public:
  Fabric(const hw::ArchParams& arch, int width, int height, DataMode mode = DataMode::Functional);
  ~Fabric() override;
  Fabric(const Fabric&) = delete;
  Fabric& operator=(const Fabric&) = delete;

  int width() const { return width_; }
  int height() const { return height_; }
  int num_pes() const { return width_ * height_; }
  int index(int x, int y) const { return y * width_ + x; }
  const hw::ArchParams& arch() const { return arch_; }
  DataMode data_mode() const { return mode_; }

  // Routing (layout time). Checked by validate_routes(), which run() calls first.
  void set_color_config(int x, int y, Color c, const hw::ColorConfig& cfg);
  const hw::ColorConfig& color_config(int x, int y, Color c) const;
  // Throws ConfigError naming the PE and colour: routes off the mesh edge, an rx set that can receive the
  // colour from two directions at once, colours beyond the routable range.
  void validate_routes() const;
  // Ends layout: validates the routes and packs the routers' state in PE order for the engine. run() and
  // run_until() do it when routes changed since the last call; benchmarks call it to keep it out of the timing.
  void prepare();

  hw::Router& router(int x, int y) { return routers_[index(x, y)]; }
  const hw::Router& router(int x, int y) const { return routers_[index(x, y)]; }
  // The CE's teardown handler calls this after reconfiguring: colour c flows again at PE (x, y).
  void exit_teardown(int x, int y, Color c);

  hw::PeQueues& queues(int x, int y);  // allocated on first use
  hw::Sram& sram(int x, int y);        // allocated on first use (contents lazily in functional mode)
  bool has_sram(int x, int y) const { return srams_[index(x, y)] != nullptr; }

  // The agent behind a PE's RAMP (compute engine or traffic driver); not owned. It first runs at `start`.
  void attach_agent(int x, int y, hw::PeAgent* agent, Cycle start = 0);
  hw::PeAgent* agent(int x, int y) const { return agents_[index(x, y)]; }
  void wake(int pe, Cycle at);  // schedules an extra agent step

  // Runs until no agent is busy and no wavelet is in flight, or until `max_cycles` have been simulated since
  // the start of this call. Throws DeadlockError with a report (stuck PEs, colours, queues) when work is
  // pending but nothing has moved for arch.simulation.deadlock_cycles cycles.
  RunResult run(Cycle max_cycles = hw::kNever);
  // Advances exactly to the end of cycle `until` (used by the SystemC engine and tests).
  void run_until(Cycle until);
  // The earliest cycle >= now() at which anything can happen (kNever if nothing is pending).
  Cycle next_event() const;
  bool idle() const;  // nothing pending at all
  Cycle now() const { return now_; }

  const Stats& stats() const { return stats_; }
  std::string deadlock_report() const;

  void set_observer(LinkObserver* obs, const std::vector<int>& traced_pes);

 private:
  struct Impl;
  void on_input_popped(int pe, int q) override;
  void on_output_pushed(int pe) override;
  Cycle queue_clock() const override;
  int host_threads(std::size_t active) const;
  void begin_step(Cycle now, Cycle last);
  void step(Cycle last);   // the cycle now(), or a block of cycles up to `last` (Impl::block_length says when)
  void step_cycle();
  void step_block(int k);  // cycles now() .. now()+k-1 in one sweep
  bool stuck(Cycle next_event_cycle);  // deadlock watchdog; moves now() to the cycle it fired

  hw::ArchParams arch_;
  int width_, height_;
  DataMode mode_;
  Cycle now_ = 0;
  std::vector<hw::Router> routers_;
  std::vector<std::unique_ptr<hw::PeQueues>> queues_;
  std::vector<std::unique_ptr<hw::Sram>> srams_;
  std::vector<hw::PeAgent*> agents_;
  Stats stats_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wafersim::fabric
