// VCD waveforms of a window of the fabric through SystemC's own VCD writer: per traced PE and output port
// (N, S, E, W, RAMP) the signals valid, color, payload, ctrl and backpressure, one sample per cycle with
// activity, plus a GTKWave save file (.gtkw) beside the VCD that groups the signals by PE.
// Only the routers inside the window report to the tracer: tracing off (or outside the window) costs nothing.
// The VCD is written to a temporary (common/atomic_file.hpp) and appears, with its .gtkw, only when finish() returns;
// a device or FIFO gets the VCD alone, after the run.
#pragma once
#include <systemc>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/atomic_file.hpp"
#include "fabric/fabric.hpp"

namespace wafersim::fabric {

class Wafer;

class VcdTracer : public LinkObserver {
 public:
  VcdTracer(Wafer& wafer, const std::filesystem::path& vcd_path, int x0, int y0, int x1, int y1,
            const std::vector<int>& colors);
  ~VcdTracer() override;

  // Checks up front that `vcd_path` (and its .gtkw beside it) can be written, as the constructor will need:
  // a writable place, a name ending in .vcd (unless a device or FIFO). Errors name `option`.
  static void check_path(const std::string& vcd_path, const std::string& option);

  void on_send(int pe, hw::Dir out, const hw::Wavelet& w, Cycle now) override;
  void on_stall(int pe, hw::Dir out, Color c, Cycle now) override;
  void on_cycle_end(Cycle now) override;

  // The engine must simulate the cycle after one with traced activity, so that valid/backpressure fall.
  bool needs_cycle_after() const { return dirty_; }
  void begin_cycle(Cycle now);
  // Closes the VCD, moves it into place and writes the .gtkw file; throws naming the path and the OS reason.
  void finish();
  // Closes the VCD and removes it, writing nothing (an abandoned run).
  void discard() noexcept;
  bool finished() const { return finished_; }
  const std::filesystem::path& path() const { return vcd_path_; }

 private:
  struct LinkSignals {
    bool valid = false;
    unsigned color = 0;
    unsigned payload = 0;
    bool ctrl = false;
    bool backpressure = false;
  };
  LinkSignals* signals(int pe, hw::Dir out);
  void write_gtkw(std::ostream& os) const;

  Fabric& fabric_;
  std::filesystem::path vcd_path_;
  std::unique_ptr<PendingOutput> vcd_;
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
