// The host runtime's device: owns a fabric, loads layouts onto it (optionally at an offset), copies exported symbols
// between host buffers and the PEs' SRAM through a TLM-2.0 socket pair (b_transport + DMI, runtime/tlm_host_link.hpp),
// launches exported functions, runs to completion and reports cycles and per-PE statistics. A deadlock (work
// pending, nothing moving) surfaces as DeadlockError with the fabric's report.
// memcpy is untimed by default; timed, it is an analytic edge-I/O model (see MemcpyTiming), not simulated wavelets.
// After a run, load() may replace the layout (the previous one is unloaded: routes cleared, SRAM freed, compute
// engines removed). Several layouts may also stay resident side by side on disjoint rectangles of the fabric
// (load_beside: e.g. the stages of a model, one region each); memcpy, launch and the statistics address the current
// one (select), run() runs the whole fabric. Not modelled: the memcpy framework's support PEs and reserved-colour
// traffic; the time a reload takes.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "fabric/fabric.hpp"
#include "fabric/wafer.hpp"
#include "firmware/csl/layout.hpp"

namespace wafersim::runtime {

class DeviceMemoryTarget;
class HostMemoryInitiator;

// A rectangle of PEs, in the layout's coordinates.
struct PeRect {
  int x = 0, y = 0, width = 1, height = 1;
};

// Timed memcpy: host data enters (leaves) the wafer through the west edge's I/O channels. A transfer of W 32-bit
// words (one element per word, fp16 included, as the SDK's 16-bit memcpy does) into a rectangle of R rows at
// columns [x0, x1] costs
//   ceil(W / (min(R, channels_per_edge) * channel_words_per_cycle)) + (x1 + 1) * hop_latency + 2 * ramp_latency
// cycles: the channels work in parallel, one per row, and the last word crosses the rectangle to the far column.
struct MemcpyTiming {
  bool timed = false;
  std::uint64_t transfers = 0;
  std::uint64_t words = 0;
  std::uint64_t cycles = 0;  // sum over timed transfers
};

struct PeStats {
  int x = 0, y = 0;                       // layout coordinates
  std::uint64_t busy_cycles = 0;          // main thread: task pick to task end
  std::uint64_t stall_cycles = 0;         // microthreads waiting on an empty IQ / full OQ
  std::uint32_t sram_bytes_used = 0;      // symbols + code reserve
  int colors_used = 0;                    // colours configured at this PE's router
  std::uint64_t tasks_run = 0, wavelets_sent = 0, wavelets_received = 0;
};

struct RunReport {
  std::uint64_t cycles = 0;        // from the launch to the last activity
  std::uint64_t launch_cycle = 0;  // fabric cycle of the launch
  bool completed = false;          // false: stopped by max_cycles
  double microseconds = 0;         // cycles at arch.clock_hz
};

class Device {
 public:
  // Builds the fabric and the SystemC host link (one Device per process: SystemC elaborates once).
  Device(const hw::ArchParams& arch, int width, int height, fabric::DataMode mode = fabric::DataMode::Functional);
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  fabric::Fabric& fabric() { return *fabric_; }
  // The SystemC side of the fabric (wafer.pe_X_Y modules, the engine thread that run() drives). Start a VCD trace
  // on it (Wafer::trace) before the first memcpy: SystemC accepts traces only before the simulation starts.
  fabric::Wafer& wafer() { return *wafer_; }
  const hw::ArchParams& arch() const { return arch_; }

  // Loads a layout at (x0, y0) of the fabric, unloading every loaded one (csl::Layout::unload) first, and makes it
  // the current one. The device keeps a reference: the layout must outlive it or the next load.
  void load(csl::Layout& layout, int x0 = 0, int y0 = 0);
  // Loads a further layout at (x0, y0) on PEs no loaded layout holds, keeping the others (their SRAM contents too),
  // and makes it the current one. ConfigError naming both rectangles when they overlap.
  void load_beside(csl::Layout& layout, int x0, int y0);
  // Makes a loaded layout the current one: memcpy, launch, layout() and pe_stats() address it, in its coordinates.
  void select(const csl::Layout& layout);
  csl::Layout& layout() const;  // the current one

  void set_memcpy_timed(bool timed) { memcpy_.timed = timed; }
  const MemcpyTiming& memcpy_timing() const { return memcpy_; }

  // Host -> device: `data` holds rect.width*rect.height blocks of `count` elements, row-major over the PEs
  // (PE (x, y) at block (y - rect.y) * width + (x - rect.x)), written at element `first` of the symbol.
  // T is float, csl::f16 or std::uint32_t and must match the symbol's element width. Throws naming PE and symbol.
  template <class T>
  void memcpy_h2d(const std::string& symbol, PeRect rect, std::span<const T> data, std::uint32_t count,
                  std::uint32_t first = 0) {
    copy(true, symbol, rect, reinterpret_cast<std::uint8_t*>(const_cast<T*>(data.data())), data.size(), sizeof(T), count,
         first);
  }
  template <class T>
  std::vector<T> memcpy_d2h(const std::string& symbol, PeRect rect, std::uint32_t count, std::uint32_t first = 0) {
    std::vector<T> out(std::size_t(rect.width) * rect.height * count);
    copy(false, symbol, rect, reinterpret_cast<std::uint8_t*>(out.data()), out.size(), sizeof(T), count, first);
    return out;
  }
  // One PE, the whole vector.
  template <class T>
  void write(const std::string& symbol, int x, int y, const std::vector<T>& v) {
    memcpy_h2d<T>(symbol, {x, y, 1, 1}, std::span<const T>(v), std::uint32_t(v.size()));
  }
  template <class T>
  std::vector<T> read(const std::string& symbol, int x, int y);

  // Calls the exported function on every PE of the current layout exporting it (CSL launch); returns how many PEs.
  int launch(const std::string& function);
  // Runs until every CE is idle and nothing is in flight. Throws DeadlockError ("device: ...: " + fabric report).
  RunReport run(std::uint64_t max_cycles = hw::kNever);

  std::vector<PeStats> pe_stats() const;  // the current layout's PEs
  PeStats pe_stats(int x, int y) const;

  // TLM statistics (tests).
  std::uint64_t tlm_transactions() const;
  std::uint64_t dmi_accesses() const;

 private:
  void copy(bool to_device, const std::string& symbol, PeRect rect, std::uint8_t* host, std::size_t host_elems,
            std::size_t elem_bytes, std::uint32_t count, std::uint32_t first);
  void elaborate();
  void attach(csl::Layout& layout, int x0, int y0);  // load()'s and load_beside()'s common part

  struct Loaded {
    csl::Layout* layout;
    int x0, y0;
  };

  hw::ArchParams arch_;
  std::unique_ptr<fabric::Fabric> fabric_;
  std::unique_ptr<fabric::Wafer> wafer_;
  std::unique_ptr<DeviceMemoryTarget> target_;
  std::unique_ptr<HostMemoryInitiator> host_;
  std::vector<Loaded> loaded_;
  csl::Layout* layout_ = nullptr;  // the current one, and its offset
  int x0_ = 0, y0_ = 0;
  MemcpyTiming memcpy_;
  std::uint64_t launch_cycle_ = 0;
  bool launched_ = false;
  bool ran_ = false;
};

template <class T>
std::vector<T> Device::read(const std::string& symbol, int x, int y) {
  const std::uint32_t n = layout().program(x, y).symbol(symbol).size();
  return memcpy_d2h<T>(symbol, {x, y, 1, 1}, n);
}

}  // namespace wafersim::runtime
