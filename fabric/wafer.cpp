#include "fabric/wafer.hpp"

#include <cmath>
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
  pes_.reserve(fabric.num_pes());
  std::string pe_name;
  for (int y = 0; y < fabric.height(); ++y) {
    for (int x = 0; x < fabric.width(); ++x) {
      pe_name = "pe_" + std::to_string(x) + "_" + std::to_string(y);
      pes_.push_back(std::make_unique<PeModule>(pe_name.c_str(), fabric, x, y));
    }
  }
  SC_HAS_PROCESS(Wafer);
  SC_THREAD(engine);
}

Wafer::~Wafer() = default;

void Wafer::trace(const std::string& vcd_path, int x0, int y0, int x1, int y1, const std::vector<int>& colors) {
  tracer_ = std::make_unique<VcdTracer>(*this, vcd_path, x0, y0, x1, y1, colors);
}

void Wafer::engine() {
  try {
    Cycle current = 0;  // SystemC time, in cycles
    while (true) {
      Cycle t = fabric_.next_event();
      if (tracer_ && tracer_->needs_cycle_after()) t = std::min(t, current + 1);
      if (t == hw::kNever && fabric_.idle()) {
        completed_ = true;
        break;
      }
      if (t != hw::kNever && t >= limit_) break;
      if (t == hw::kNever) t = current + 1;  // let the fabric's watchdog report the deadlock
      if (t > current) wait(period_ * double(t - current));
      current = t;
      if (tracer_) tracer_->begin_cycle(t);
      fabric_.run_until(t);
    }
  } catch (...) {
    error_ = std::current_exception();
  }
  if (tracer_) tracer_->finish();
  sc_core::sc_stop();
}

RunResult Wafer::run(Cycle max_cycles) {
  limit_ = max_cycles;
  // sc_stop() at the end of a run is the normal case, not news.
  sc_core::sc_report_handler::set_actions("/OSCI/SystemC", sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  sc_core::sc_start();
  if (error_) std::rethrow_exception(error_);
  return {fabric_.stats().cycles, completed_};
}

}  // namespace wafersim::fabric
