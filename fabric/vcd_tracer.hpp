// VCD waveforms of a window of the fabric through SystemC's own VCD writer: per traced PE and output port
// (N, S, E, W, RAMP) the signals valid, color, payload, ctrl and backpressure, one sample per cycle with
// activity, plus a GTKWave save file (.gtkw) beside the VCD that groups the signals by PE.
// Only the routers inside the window report to the tracer: tracing off (or outside the window) costs nothing.
#pragma once
#include <systemc>

#include <filesystem>
#include <string>
#include <vector>

#include "fabric/fabric.hpp"

namespace wafersim::fabric {

class Wafer;

class VcdTracer : public LinkObserver {
 public:
  VcdTracer(Wafer& wafer, const std::filesystem::path& vcd_path, int x0, int y0, int x1, int y1,
            const std::vector<int>& colors);
  ~VcdTracer() override;

  void on_send(int pe, hw::Dir out, const hw::Wavelet& w, Cycle now) override;
  void on_stall(int pe, hw::Dir out, Color c, Cycle now) override;
  void on_cycle_end(Cycle now) override;

  // The engine must simulate the cycle after one with traced activity, so that valid/backpressure fall.
  bool needs_cycle_after() const { return dirty_; }
  void begin_cycle(Cycle now);
  // Closes the VCD, moves it into place and writes the .gtkw file.
  void finish();

 private:
  struct LinkSignals {
    bool valid = false;
    unsigned color = 0;
    unsigned payload = 0;
    bool ctrl = false;
    bool backpressure = false;
  };
  LinkSignals* signals(int pe, hw::Dir out);

  Fabric& fabric_;
  std::filesystem::path vcd_path_, tmp_base_;
  int x0_, y0_, x1_, y1_;
  std::uint32_t color_mask_ = 0;
  sc_core::sc_trace_file* tf_ = nullptr;
  std::vector<LinkSignals> links_;  // (x - x0, y - y0, port) dense
  std::vector<LinkSignals*> touched_;
  std::vector<std::string> names_;  // traced signal names, for the .gtkw file
  bool dirty_ = false;
  bool finished_ = false;
};

}  // namespace wafersim::fabric
