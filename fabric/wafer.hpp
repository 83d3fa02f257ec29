// The SystemC face of the fabric: `wafer.pe_X_Y` modules (with `router` and `sram` children) that users can
// find and trace, and one engine thread that advances SystemC time to the fabric's next event, so that idle
// cycles cost nothing and no PE owns a kernel process or a thread stack.
// Not modelled here: behaviour (fabric/fabric.hpp holds it); the host's TLM sockets live in runtime/.
#pragma once
#include <systemc>

#include <exception>
#include <functional>
#include <memory>
#include <vector>

#include "fabric/fabric.hpp"

namespace wafersim::fabric {

class VcdTracer;

// Router of one PE as a named SystemC object; its state lives in hw::Router.
class RouterModule : public sc_core::sc_module {
 public:
  RouterModule(sc_core::sc_module_name name, hw::Router& router) : sc_module(name), router_(router) {}
  hw::Router& model() { return router_; }
  const char* kind() const override { return "wafersim_router"; }

 private:
  hw::Router& router_;
};

// SRAM of one PE as a named SystemC object; contents are created on first use by the fabric.
class SramModule : public sc_core::sc_module {
 public:
  SramModule(sc_core::sc_module_name name, Fabric& fabric, int x, int y)
      : sc_module(name), fabric_(fabric), x_(x), y_(y) {}
  hw::Sram& model() { return fabric_.sram(x_, y_); }
  const char* kind() const override { return "wafersim_sram"; }

 private:
  Fabric& fabric_;
  int x_, y_;
};

class PeModule : public sc_core::sc_module {
 public:
  PeModule(sc_core::sc_module_name name, Fabric& fabric, int x, int y);
  const int x, y;
  RouterModule router;
  SramModule sram;
  const char* kind() const override { return "wafersim_pe"; }
};

class Wafer : public sc_core::sc_module {
 public:
  // Builds wafer.pe_X_Y for every PE of `fabric`. The SystemC time resolution must allow the clock period
  // (set_time_resolution_for() before constructing any sc_time).
  Wafer(sc_core::sc_module_name name, Fabric& fabric);
  ~Wafer() override;

  // Sets the SystemC time resolution to 1 ps; call once before elaborating anything.
  static void set_time_resolution();
  sc_core::sc_time period() const { return period_; }

  Fabric& fabric() { return fabric_; }
  PeModule& pe(int x, int y) { return *pes_[fabric_.index(x, y)]; }

  // Traces links of PEs in [x0..x1] x [y0..y1] for the given colours (empty: all) into `vcd_path`. The file
  // appears only when finish_trace() returns (run() may be called again, and a VCD cannot be reopened).
  void trace(const std::string& vcd_path, int x0, int y0, int x1, int y1, const std::vector<int>& colors);

  // Runs the simulation until the fabric is idle or `max_cycles` more cycles have passed; rethrows DeadlockError
  // etc., after finishing the trace (which ends with the error). May be called again (e.g. after the host launched
  // another function): SystemC time goes on, and so does the trace.
  RunResult run(Cycle max_cycles = hw::kNever);
  // Calls `report(now, true)` from the engine after each step of a run (the fabric's cycle count `now`) and
  // `report(now, false)` when run() returns, e.g. for a rate-limited progress line; an empty function: none.
  void on_progress(std::function<void(Cycle now, bool running)> report) { progress_ = std::move(report); }
  // Closes the VCD trace (if any), moves it into place and writes its .gtkw file: the trace is complete when this
  // returns. Throws naming the file and the OS reason. Destroying a Wafer with an unfinished trace removes it and
  // warns on standard error.
  void finish_trace();

 private:
  void engine();

  Fabric& fabric_;
  sc_core::sc_time period_;
  std::vector<std::unique_ptr<PeModule>> pes_;
  std::unique_ptr<VcdTracer> tracer_;
  sc_core::sc_event run_request_;
  Cycle limit_ = hw::kNever;
  Cycle current_ = 0;  // SystemC time, in cycles
  bool completed_ = false;
  bool run_pending_ = false;
  std::exception_ptr error_;
  std::function<void(Cycle, bool)> progress_;
};

}  // namespace wafersim::fabric
