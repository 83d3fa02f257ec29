#include "fabric/wafer.hpp"

#include <cmath>
#include <iostream>
#include <string>

#include "fabric/vcd_tracer.hpp"

namespace wafersim::fabric {

PeModule::PeModule(sc_core::sc_module_name name, Fabric& fabric, int x_, int y_)
    : sc_module(name), x(x_), y(y_), router("router", fabric.router(x_, y_)), sram("sram", fabric, x_, y_) {}

void Wafer::set_time_resolution() {
  static bool done = false;
  if (!done) sc_core::sc_set_time_resolution(1, sc_core::SC_PS);
  done = true;
}

Wafer::Wafer(sc_core::sc_module_name name, Fabric& fabric) : sc_module(name), fabric_(fabric) {
  set_time_resolution();
  period_ = sc_core::sc_time(std::round(1e12 / fabric.arch().clock_hz), sc_core::SC_PS);
  // The engine process is registered before the PEs so that tearing the PEs down stays linear (see ~Wafer).
  SC_HAS_PROCESS(Wafer);
  SC_THREAD(engine);
  pes_.reserve(fabric.num_pes());
  std::string pe_name;
  for (int y = 0; y < fabric.height(); ++y) {
    for (int x = 0; x < fabric.width(); ++x) {
      pe_name = "pe_" + std::to_string(x) + "_" + std::to_string(y);
      pes_.push_back(std::make_unique<PeModule>(pe_name.c_str(), fabric, x, y));
    }
  }
}

Wafer::~Wafer() {
  // A trace nobody finished belongs to an abandoned run: it is removed, and said so (a destructor cannot throw).
  if (tracer_ && !tracer_->finished()) {
    tracer_->discard();
    std::cerr << "wafersim: warning: VCD trace " << tracer_->path().string()
              << " not written: the run was abandoned before Wafer::finish_trace()\n";
  }
  // SystemC 2.3.4 unregisters a module by a linear search from the front of its registries and moves the last
  // entry into the hole. Destroying the first PE, then the others from the last one down, keeps every search at
  // the front: linear instead of quadratic time (minutes instead of hours for a full wafer).
  if (!pes_.empty()) pes_.front().reset();
  for (std::size_t i = pes_.size(); i-- > 1;) pes_[i].reset();
}

void Wafer::trace(const std::string& vcd_path, int x0, int y0, int x1, int y1, const std::vector<int>& colors) {
  tracer_ = std::make_unique<VcdTracer>(*this, vcd_path, x0, y0, x1, y1, colors);
}

void Wafer::engine() {
  while (true) {
    // Between runs the engine sleeps, so sc_start() returns when a run is over. The first request may come
    // before the thread first ran (sc_start elaborates and initialises), hence the flag.
    if (!run_pending_) wait(run_request_);
    run_pending_ = false;
    completed_ = false;
    try {
      while (true) {
        Cycle t = fabric_.next_event();
        if (tracer_ && tracer_->needs_cycle_after()) t = std::min(t, current_ + 1);
        if (t == hw::kNever && fabric_.idle()) {
          completed_ = true;
          break;
        }
        if (t != hw::kNever && t >= limit_) break;
        if (t == hw::kNever) t = current_ + 1;  // let the fabric's watchdog report the deadlock
        if (t > current_) wait(period_ * double(t - current_));
        current_ = t;
        if (tracer_) tracer_->begin_cycle(t);
        // Untraced, the fabric may run a few cycles ahead of SystemC time (Fabric::step_block); time catches up
        // at once, before anything else in the kernel runs.
        const Cycle ahead = tracer_ ? 0 : Cycle(fabric_.arch().simulation.cycle_block) - 1;
        fabric_.run_until(limit_ == hw::kNever ? t + ahead : std::min(t + ahead, limit_ - 1));
        if (fabric_.now() > current_) {
          wait(period_ * double(fabric_.now() - current_));
          current_ = fabric_.now();
        }
        if (progress_) progress_(fabric_.now(), true);
      }
    } catch (...) {
      error_ = std::current_exception();
    }
  }
}

RunResult Wafer::run(Cycle max_cycles) {
  limit_ = max_cycles == hw::kNever ? hw::kNever : fabric_.now() + max_cycles;
  error_ = nullptr;
  run_pending_ = true;
  run_request_.notify(sc_core::SC_ZERO_TIME);
  sc_core::sc_start();
  if (progress_) progress_(fabric_.now(), false);
  if (error_) {
    // The trace up to the error is what one wants to look at; the run's error stays the one reported.
    try {
      finish_trace();
    } catch (const std::exception& e) {
      std::cerr << "wafersim: warning: " << e.what() << "\n";
    }
    std::rethrow_exception(error_);
  }
  return {fabric_.stats().cycles, completed_};
}

void Wafer::finish_trace() {
  if (tracer_) tracer_->finish();
}

}  // namespace wafersim::fabric
