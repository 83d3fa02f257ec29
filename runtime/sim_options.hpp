// Options shared by every simulating subcommand (--arch, --mesh, --set, tracing, --json, --quiet) and the result
// envelope every JSON result carries (command line, host seconds, simulated cycles, cycles per host second, peak
// RSS, git revision, overrides, resolved configuration).
#pragma once
#include <boost/program_options.hpp>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fabric/fabric.hpp"
#include "fabric/wafer.hpp"
#include "hw/arch_params.hpp"

namespace wafersim::runtime {

struct SimOptions {
  std::string arch_file;              // --arch: a preset name or a file (default wse2)
  std::string mesh;                   // --mesh WxH
  std::vector<std::string> overrides;  // --set key=value
  std::string vcd;                    // --vcd FILE
  std::string trace_region;           // --trace-region X0,Y0,X1,Y1
  std::string trace_colors;           // --trace-colors LIST
  std::string json;                   // --json FILE ("-": standard output)
  bool timing_only = false;           // --timing-only
  bool quiet = false;                 // --quiet: no progress line

  void add_to(boost::program_options::options_description& desc, const std::string& default_mesh);

  // The architecture with overrides applied (throws ConfigError / UsageError).
  hw::ArchParams arch() const;
  // Parsed --mesh; checked against the architecture's fabric.
  std::pair<int, int> mesh_size(const hw::ArchParams& arch) const;
  fabric::DataMode data_mode() const { return timing_only ? fabric::DataMode::TimingOnly : fabric::DataMode::Functional; }
  // Checks --json and --vcd before any work (common/atomic_file.hpp: check_output_path); call after parsing.
  void check_outputs() const;
  // Starts tracing on `wafer` if --vcd was given (region defaults to the 4x4 corner, colours to all).
  void start_trace(fabric::Wafer& wafer) const;
  // Shows a progress line on stderr during long runs of `wafer` (runtime/progress.hpp) unless --quiet; `end` is
  // the cycle the run stops at, if known (for the ETA).
  void show_progress(fabric::Wafer& wafer, const std::string& label, std::optional<std::uint64_t> end = {}) const;
  // The JSON result of a simulation: result_envelope() plus simulated cycles, simulated microseconds, simulated
  // cycles per host second, the --set overrides and the resolved configuration.
  nlohmann::json result_envelope(const std::vector<std::string>& command_line, const hw::ArchParams& arch,
                                 double host_seconds, std::uint64_t simulated_cycles) const;
};

// configs/NAME relative to the working directory if it exists there, else in the source tree of this build.
std::string default_config_file(const std::string& name);
// The file an --arch value names: a bare name (no '/' or '.') is the preset configs/NAME.yaml, found as above.
std::string arch_file_path(const std::string& arch);
// The model directory a --model value names: a paper model name (models/model_names.hpp) in configs/models/ (found
// as above), else the directory itself.
std::string model_dir_path(const std::string& model);

std::uint64_t peak_rss_bytes();

// The common part of every JSON result (docs/results.md): wafersim version, git revision, build type, the command
// line, host seconds and peak RSS.
nlohmann::json result_envelope(const std::vector<std::string>& command_line, double host_seconds);
// Writes `j` to `path` atomically (nothing half-written on error).
void write_json(const std::string& path, const nlohmann::json& j);

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace wafersim::runtime
