#include "runtime/device.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "common/error.hpp"
#include "runtime/tlm_host_link.hpp"

namespace wafersim::runtime {

namespace {
std::string xy(int x, int y) { return "PE(" + std::to_string(x) + "," + std::to_string(y) + ")"; }
}  // namespace

Device::Device(const hw::ArchParams& arch, int width, int height, fabric::DataMode mode)
    : arch_(arch), fabric_(std::make_unique<fabric::Fabric>(arch_, width, height, mode)) {
  fabric::Wafer::set_time_resolution();
  wafer_ = std::make_unique<fabric::Wafer>("wafer", *fabric_);
  target_ = std::make_unique<DeviceMemoryTarget>("device_memory", *fabric_);
  host_ = std::make_unique<HostMemoryInitiator>("host");
  host_->socket.bind(target_->socket);
}

Device::~Device() = default;

// Port binding completes at the end of elaboration: the first transaction elaborates (the wafer's engine thread
// then sleeps until run() asks it to simulate, so the device can launch and run any number of times).
void Device::elaborate() {
  if (sc_core::sc_get_status() == sc_core::SC_ELABORATION) sc_core::sc_start(sc_core::SC_ZERO_TIME);
}

void Device::load(csl::Layout& layout, int x0, int y0) {
  for (const Loaded& l : loaded_)
    if (l.layout == &layout) throw std::logic_error("device: this layout is already loaded");
  if (launched_) throw std::logic_error("device: load while a launched kernel has not run");
  for (const Loaded& l : loaded_) l.layout->unload();
  loaded_.clear();
  layout_ = nullptr;
  attach(layout, x0, y0);
}

void Device::load_beside(csl::Layout& layout, int x0, int y0) {
  if (launched_) throw std::logic_error("device: load while a launched kernel has not run");
  const auto rect = [](const csl::Layout& l, int x, int y) {
    return std::to_string(l.width()) + "x" + std::to_string(l.height()) + " at " + xy(x, y);
  };
  for (const Loaded& l : loaded_) {
    if (l.layout == &layout) throw std::logic_error("device: this layout is already loaded");
    if (x0 < l.x0 + l.layout->width() && l.x0 < x0 + layout.width() && y0 < l.y0 + l.layout->height() &&
        l.y0 < y0 + layout.height())
      throw ConfigError("device: the layout of " + rect(layout, x0, y0) + " overlaps the loaded one of " +
                        rect(*l.layout, l.x0, l.y0));
  }
  attach(layout, x0, y0);
}

void Device::attach(csl::Layout& layout, int x0, int y0) {
  layout.load(*fabric_, x0, y0);
  if (ran_) fabric_->validate_routes();  // run() validates only before the first run
  loaded_.push_back({&layout, x0, y0});
  layout_ = &layout;
  x0_ = x0;
  y0_ = y0;
}

void Device::select(const csl::Layout& layout) {
  const auto it = std::find_if(loaded_.begin(), loaded_.end(), [&](const Loaded& l) { return l.layout == &layout; });
  if (it == loaded_.end()) throw std::logic_error("device: select of a layout that is not loaded");
  layout_ = it->layout;
  x0_ = it->x0;
  y0_ = it->y0;
}

csl::Layout& Device::layout() const {
  if (!layout_) throw std::logic_error("device: no layout loaded");
  return *layout_;
}

void Device::copy(bool to_device, const std::string& symbol, PeRect rect, std::uint8_t* host, std::size_t host_elems,
                  std::size_t elem_bytes, std::uint32_t count, std::uint32_t first) {
  csl::Layout& l = layout();
  if (rect.width < 1 || rect.height < 1 || rect.x < 0 || rect.y < 0 || rect.x + rect.width > l.width() ||
      rect.y + rect.height > l.height())
    throw ConfigError("device memcpy of '" + symbol + "': rectangle at (" + std::to_string(rect.x) + "," +
                      std::to_string(rect.y) + ") size " + std::to_string(rect.width) + "x" +
                      std::to_string(rect.height) + " is outside the " + std::to_string(l.width()) + "x" +
                      std::to_string(l.height()) + " layout");
  if (host_elems != std::size_t(rect.width) * rect.height * count)
    throw ConfigError("device memcpy of '" + symbol + "': host buffer holds " + std::to_string(host_elems) +
                      " elements, the rectangle needs " + std::to_string(rect.width * rect.height) + " x " +
                      std::to_string(count));
  elaborate();
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  for (int y = rect.y; y < rect.y + rect.height; ++y)
    for (int x = rect.x; x < rect.x + rect.width; ++x) {
      const csl::ArrayBase& a = l.program(x, y).symbol(symbol);
      if (a.elem_bytes() != elem_bytes)
        throw ConfigError("device memcpy: " + xy(x0_ + x, y0_ + y) + " symbol '" + symbol + "' has " +
                          std::to_string(a.elem_bytes()) + "-byte elements, the host buffer " +
                          std::to_string(elem_bytes) + "-byte ones");
      if (std::uint64_t(first) + count > a.size())
        throw CapacityError("device memcpy: " + xy(x0_ + x, y0_ + y) + " symbol '" + symbol + "' has " +
                            std::to_string(a.size()) + " elements; the copy needs [" + std::to_string(first) + ", " +
                            std::to_string(first + count) + ")");
      if (count == 0) continue;
      const std::size_t block = std::size_t(y - rect.y) * rect.width + (x - rect.x);
      host_->transfer(to_device ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND,
                      pe_address(fabric_->index(x0_ + x, y0_ + y), a.address() + first * std::uint32_t(elem_bytes)),
                      host + block * count * elem_bytes, count * std::uint32_t(elem_bytes), delay);
    }
  if (memcpy_.timed) {
    const std::uint64_t words = std::uint64_t(rect.width) * rect.height * count;
    const double rate = std::min(rect.height, arch_.host_io.channels_per_edge) * arch_.host_io.channel_words_per_cycle;
    const std::uint64_t cycles = std::uint64_t(std::ceil(double(words) / rate)) +
                                 std::uint64_t(x0_ + rect.x + rect.width) * arch_.router.hop_latency() +
                                 2u * arch_.router.ramp_latency;
    ++memcpy_.transfers;
    memcpy_.words += words;
    memcpy_.cycles += cycles;
  }
}

int Device::launch(const std::string& function) {
  const int n = layout().call(function);
  // The CEs are woken at the first cycle not simulated yet: the current one before any run, the next one after.
  launch_cycle_ = fabric_->now() + (ran_ ? 1 : 0);
  launched_ = true;
  return n;
}

RunReport Device::run(std::uint64_t max_cycles) {
  RunReport r;
  r.launch_cycle = launched_ ? launch_cycle_ : fabric_->now() + (ran_ ? 1 : 0);
  fabric::RunResult res;
  try {
    res = wafer_->run(max_cycles);
  } catch (const DeadlockError& e) {
    throw DeadlockError(std::string("device: the kernel launched at cycle ") + std::to_string(r.launch_cycle) +
                        " cannot finish: " + e.what());
  }
  ran_ = true;
  r.completed = res.completed;
  r.cycles = res.cycles > r.launch_cycle ? res.cycles - r.launch_cycle : 0;
  r.microseconds = arch_.cycles_to_us(double(r.cycles));
  launched_ = false;
  return r;
}

PeStats Device::pe_stats(int x, int y) const {
  PeStats s;
  s.x = x;
  s.y = y;
  const int fx = x0_ + x, fy = y0_ + y;
  const csl::Layout& l = layout();
  if (l.has_program(x, y)) {
    const auto& st = l.engine(x, y).stats();
    s.busy_cycles = st.main_busy_cycles;
    s.stall_cycles = st.microthread_stall_cycles;
    s.tasks_run = st.tasks_run;
    s.wavelets_sent = st.wavelets_sent;
    s.wavelets_received = st.wavelets_received;
  }
  if (fabric_->has_sram(fx, fy)) s.sram_bytes_used = fabric_->sram(fx, fy).used();
  for (int c = 0; c < arch_.router.routable_colors; ++c)
    if (fabric_->color_config(fx, fy, hw::Color(c)).configured()) ++s.colors_used;
  return s;
}

std::vector<PeStats> Device::pe_stats() const {
  std::vector<PeStats> v;
  const csl::Layout& l = layout();
  for (int y = 0; y < l.height(); ++y)
    for (int x = 0; x < l.width(); ++x) v.push_back(pe_stats(x, y));
  return v;
}

std::uint64_t Device::tlm_transactions() const { return target_->transactions(); }
std::uint64_t Device::dmi_accesses() const { return host_->dmi_accesses(); }

}  // namespace wafersim::runtime
