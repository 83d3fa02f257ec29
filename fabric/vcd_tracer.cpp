#include "fabric/vcd_tracer.hpp"

#include <sysc/tracing/sc_tracing_ids.h>

#include <cmath>
#include <fstream>

#include "common/atomic_file.hpp"
#include "common/error.hpp"
#include "fabric/wafer.hpp"

namespace wafersim::fabric {

namespace {
const char* kPortNames[] = {"N", "S", "E", "W", "RAMP"};

std::filesystem::path gtkw_path(std::filesystem::path vcd) { return vcd.replace_extension(".gtkw"); }

// SystemC appends ".vcd" to the name it is given, and the .gtkw file is named after the VCD.
void check_vcd_name(const std::string& path, const std::string& option) {
  if (!writes_through(path) && std::filesystem::path(path).extension() != ".vcd")
    throw ConfigError(option + path + ": the VCD file name must end in .vcd");
}
}  // namespace

void VcdTracer::check_path(const std::string& vcd_path, const std::string& option) {
  check_output_path(vcd_path, option, /*allow_stdout=*/false);
  check_vcd_name(vcd_path, option + " ");
  if (!writes_through(vcd_path)) check_output_path(gtkw_path(vcd_path), option + " (its GTKWave file)");
}

VcdTracer::VcdTracer(Wafer& wafer, const std::filesystem::path& vcd_path, int x0, int y0, int x1, int y1,
                     const std::vector<int>& colors)
    : fabric_(wafer.fabric()), vcd_path_(vcd_path), x0_(x0), y0_(y0), x1_(x1), y1_(y1) {
  if (x0 < 0 || y0 < 0 || x1 >= fabric_.width() || y1 >= fabric_.height() || x0 > x1 || y0 > y1)
    throw ConfigError("--trace-region " + std::to_string(x0) + "," + std::to_string(y0) + "," + std::to_string(x1) + "," +
                      std::to_string(y1) + ": expected X0,Y0,X1,Y1 with 0 <= X0 <= X1 < " + std::to_string(fabric_.width()) +
                      " and 0 <= Y0 <= Y1 < " + std::to_string(fabric_.height()));
  const long long n = (long long)(x1 - x0 + 1) * (y1 - y0 + 1);
  if (n > 4096)
    throw ConfigError("--trace-region: " + std::to_string(n) +
                      " PEs; trace a window of at most 4096 PEs (SystemC's VCD writer samples every traced signal "
                      "each time step)");
  if (colors.empty()) color_mask_ = ~0u;
  for (int c : colors) {
    if (c < 0 || c >= fabric_.arch().router.routable_colors)
      throw ConfigError("--trace-colors: colour " + std::to_string(c) + " is not routable (0.." +
                        std::to_string(fabric_.arch().router.routable_colors - 1) + ")");
    color_mask_ |= 1u << c;
  }
  if (vcd_path_ == "-") throw ConfigError("-: a VCD trace needs a file name");
  check_vcd_name(vcd_path_.string(), "");
  vcd_ = std::make_unique<PendingOutput>(vcd_path_, ".vcd");  // fails here, not after the run, if it cannot be written
  std::filesystem::path base = vcd_->temp();
  tf_ = sc_core::sc_create_vcd_trace_file(base.replace_extension().string().c_str());
  if (!tf_) throw ConfigError(vcd_path_.string() + ": cannot create the VCD file");
  // SystemC reports the time unit as an info line on standard output, and warns when a trace closes before any
  // cycle (a run that never started: the file is then empty, or discarded), both naming the temporary file.
  sc_core::sc_report_handler::set_actions(sc_core::SC_ID_TRACING_TIMESCALE_UNIT_, sc_core::SC_DO_NOTHING);
  sc_core::sc_report_handler::set_actions(sc_core::SC_ID_TRACING_CLOSE_EMPTY_FILE_, sc_core::SC_DO_NOTHING);
  tf_->set_time_unit(1, sc_core::SC_PS);
  links_.resize(std::size_t(n) * hw::kNumPorts);
  std::vector<int> traced;
  for (int y = y0; y <= y1; ++y) {
    for (int x = x0; x <= x1; ++x) {
      traced.push_back(fabric_.index(x, y));
      for (int p = 0; p < hw::kNumPorts; ++p) {
        LinkSignals& s = *signals(fabric_.index(x, y), hw::Dir(p));
        const std::string base = "pe_" + std::to_string(x) + "_" + std::to_string(y) + "." + kPortNames[p] + ".";
        sc_core::sc_trace(tf_, s.valid, base + "valid");
        sc_core::sc_trace(tf_, s.color, base + "color", 5);
        sc_core::sc_trace(tf_, s.payload, base + "payload", 32);
        sc_core::sc_trace(tf_, s.ctrl, base + "ctrl");
        sc_core::sc_trace(tf_, s.backpressure, base + "backpressure");
        for (const char* sig : {"valid", "color", "payload", "ctrl", "backpressure"}) names_.push_back(base + sig);
      }
    }
  }
  fabric_.set_observer(this, traced);
}

VcdTracer::~VcdTracer() { discard(); }

void VcdTracer::discard() noexcept {
  if (finished_) return;
  finished_ = true;
  fabric_.set_observer(nullptr, {});
  if (tf_) sc_core::sc_close_vcd_trace_file(tf_);
  tf_ = nullptr;
  if (vcd_) vcd_->discard();
}

VcdTracer::LinkSignals* VcdTracer::signals(int pe, hw::Dir out) {
  const int x = pe % fabric_.width(), y = pe / fabric_.width();
  const int w = x1_ - x0_ + 1;
  return &links_[(std::size_t((y - y0_) * w + (x - x0_))) * hw::kNumPorts + int(out)];
}

void VcdTracer::on_send(int pe, hw::Dir out, const hw::Wavelet& w, Cycle) {
  if (!(color_mask_ & (1u << w.color))) return;
  LinkSignals* s = signals(pe, out);
  s->valid = true;
  s->color = w.color;
  s->payload = w.payload;
  s->ctrl = w.control;
  touched_.push_back(s);
}

void VcdTracer::on_stall(int pe, hw::Dir out, Color c, Cycle) {
  if (!(color_mask_ & (1u << c))) return;
  LinkSignals* s = signals(pe, out);
  s->backpressure = true;
  touched_.push_back(s);
}

void VcdTracer::on_cycle_end(Cycle) { dirty_ = !touched_.empty(); }

void VcdTracer::begin_cycle(Cycle) {
  // valid and backpressure are per-cycle pulses; colour and payload hold their last value like a bus.
  for (LinkSignals* s : touched_) {
    s->valid = false;
    s->backpressure = false;
  }
  touched_.clear();
  dirty_ = false;
}

void VcdTracer::finish() {
  if (finished_) return;
  finished_ = true;
  fabric_.set_observer(nullptr, {});
  sc_core::sc_close_vcd_trace_file(tf_);
  tf_ = nullptr;
  try {
    if (vcd_->writes_through()) {
      vcd_->commit();
      return;
    }
    // The .gtkw is written (to its temporary) first, so that a failure leaves neither file.
    PendingOutput gtkw(gtkw_path(vcd_path_));
    std::ofstream os(gtkw.temp());
    write_gtkw(os);
    os.close();
    if (!os) throw std::runtime_error(gtkw.path().string() + ": write failed");
    vcd_->commit();
    gtkw.commit();
  } catch (...) {
    vcd_->discard();
    throw;
  }
}

void VcdTracer::write_gtkw(std::ostream& os) const {
  os << "[*] GTKWave save file written by wafersim: links of PEs (" << x0_ << "," << y0_ << ")..(" << x1_ << ","
     << y1_ << "), grouped by PE\n";
  os << "[dumpfile] \"" << std::filesystem::absolute(vcd_path_).string() << "\"\n";
  os << "[timestart] 0\n";
  // Zoom to show the whole run (GTKWave's window spans about 2.5 * 2^-zoom time units).
  const double end_ps = double(fabric_.now() + 1) * 1e12 / fabric_.arch().clock_hz;
  os << "*" << -std::log2(std::max(1.0, end_ps / 2.5)) << " 0 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1\n";
  // One group per PE, inside it one group per output port.
  std::string pe_group, port_group;
  auto close = [&](std::string& g) {
    if (!g.empty()) os << "@1000200\n-" << g << "\n";
    g.clear();
  };
  for (const auto& name : names_) {
    const std::size_t dot1 = name.find('.'), dot2 = name.find('.', dot1 + 1);
    const std::string pe = name.substr(0, dot1), port = pe + "." + name.substr(dot1 + 1, dot2 - dot1 - 1);
    if (pe != pe_group) {
      close(port_group);
      close(pe_group);
      pe_group = pe;
      os << "@800200\n-" << pe_group << "\n";
    }
    if (port != port_group) {
      close(port_group);
      port_group = port;
      os << "@800200\n-" << port_group << "\n";
    }
    const bool bus = name.find(".payload") != std::string::npos || name.find(".color") != std::string::npos;
    os << (bus ? "@22\n" : "@28\n") << "SystemC." << name
       << (bus ? (name.find(".payload") != std::string::npos ? "[31:0]" : "[4:0]") : "") << "\n";
  }
  close(port_group);
  close(pe_group);
}

}  // namespace wafersim::fabric
