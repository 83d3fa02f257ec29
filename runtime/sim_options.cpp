#include "runtime/sim_options.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <regex>
#include <set>

#include "common/atomic_file.hpp"
#include "common/error.hpp"
#include "fabric/vcd_tracer.hpp"
#include "models/model_names.hpp"
#include "runtime/cli/command.hpp"
#include "runtime/cli/options.hpp"
#include "runtime/progress.hpp"
#include "runtime/version.hpp"

namespace wafersim::runtime {

namespace po = boost::program_options;

std::string default_config_file(const std::string& name) {
  const std::string rel = "configs/" + name;
  if (std::filesystem::exists(rel)) return rel;
  return std::string(WAFERSIM_SOURCE_DIR) + "/" + rel;
}

std::string arch_file_path(const std::string& arch) {
  const bool bare_name = !arch.empty() && arch.find_first_of("/.") == std::string::npos;
  if (!bare_name) return arch;
  const std::string preset = default_config_file(arch + ".yaml");
  if (std::filesystem::is_regular_file(preset)) return preset;
  if (std::filesystem::exists(arch)) return arch;
  std::set<std::string> presets;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(preset).parent_path(), ec))
    if (e.path().extension() == ".yaml") presets.insert(e.path().stem().string());
  std::string names;
  for (const auto& n : presets) names += (names.empty() ? "" : ", ") + n;
  throw ConfigError("--arch " + arch + ": no such file, and no preset of that name (presets: " + names + ")");
}

std::string model_dir_path(const std::string& model) {
  return models::resolve_model(model, default_config_file("models")).string();
}

void SimOptions::add_to(po::options_description& desc, const std::string& default_mesh) {
  desc.add_options()
      ("arch", po::value(&arch_file)->default_value("wse2"), "architecture: a preset (wse2, wse3) or a YAML/JSON file (configs/*.yaml, `wafersim params` output, a --json result)")
      ("mesh", po::value(&mesh)->default_value(default_mesh), "simulated rectangle WxH (a sub-rectangle of the fabric)")
      ("set", po::value(&overrides)->composing(), "override a parameter, e.g. --set router.link_latency=2 (repeatable)")
      ("timing-only", po::bool_switch(&timing_only), "no payloads or SRAM contents (capacities still enforced)")
      ("vcd", po::value(&vcd), "write a VCD waveform of the traced window (FILE.vcd, GTKWave save file beside it)")
      ("trace-region", po::value(&trace_region), "traced PEs X0,Y0,X1,Y1 (default 0,0,3,3)")
      ("trace-colors", po::value(&trace_colors), "traced colours, e.g. 0,1,4-7 (default all)")
      ("json", po::value(&json), "write the result as JSON to FILE (- for standard output; keys: docs/results.md)")
      ("quiet", po::bool_switch(&quiet), "no progress line on stderr (shown every few seconds in runs over 2 s)");
}

hw::ArchParams SimOptions::arch() const {
  return hw::load_arch(arch_file_path(arch_file), overrides);
}

std::pair<int, int> SimOptions::mesh_size(const hw::ArchParams& arch) const {
  static const std::regex re(R"(^\s*(\d{1,6})\s*[xX]\s*(\d{1,6})\s*$)");
  std::smatch m;
  if (!std::regex_match(mesh, m, re)) throw cli::UsageError("--mesh " + mesh + ": expected WxH, e.g. 16x16");
  const int w = std::stoi(m[1]), h = std::stoi(m[2]);
  if (w < 1 || h < 1) throw cli::UsageError("--mesh " + mesh + ": width and height must be at least 1");
  if (w > arch.fabric.width || h > arch.fabric.height)
    throw cli::UsageError("--mesh " + mesh + ": does not fit the " + arch.name + " fabric of " +
                          std::to_string(arch.fabric.width) + "x" + std::to_string(arch.fabric.height) + " PEs (" +
                          arch.source + ")");
  return {w, h};
}

void SimOptions::check_outputs() const {
  if (!json.empty()) check_output_path(json, "--json");
  if (!vcd.empty()) fabric::VcdTracer::check_path(vcd, "--vcd");
}

void SimOptions::start_trace(fabric::Wafer& wafer) const {
  if (vcd.empty()) {
    if (!trace_region.empty() || !trace_colors.empty())
      throw cli::UsageError("--trace-region and --trace-colors need --vcd FILE");
    return;
  }
  std::vector<int> region = {0, 0, std::min(3, wafer.fabric().width() - 1), std::min(3, wafer.fabric().height() - 1)};
  if (!trace_region.empty()) {
    region.clear();
    static const std::regex re(R"(^\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*$)");
    std::smatch m;
    if (!std::regex_match(trace_region, m, re))
      throw cli::UsageError("--trace-region " + trace_region + ": expected X0,Y0,X1,Y1");
    for (int i = 1; i <= 4; ++i) region.push_back(std::stoi(m[i]));
  }
  const std::vector<int> colors = trace_colors.empty() ? std::vector<int>{} : cli::parse_int_list(trace_colors, "--trace-colors");
  wafer.trace(vcd, region[0], region[1], region[2], region[3], colors);
}

std::uint64_t peak_rss_bytes() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return std::uint64_t(ru.ru_maxrss) * 1024;
}

void SimOptions::show_progress(fabric::Wafer& wafer, const std::string& label,
                               std::optional<std::uint64_t> end) const {
  if (quiet) return;
  auto progress = std::make_shared<Progress>(label, end, std::cerr, ::isatty(STDERR_FILENO) == 1);
  wafer.on_progress([progress](fabric::Cycle now, bool running) { progress->report(now, running); });
}

nlohmann::json result_envelope(const std::vector<std::string>& command_line, double host_seconds) {
  nlohmann::json j;
  j["wafersim_version"] = wafersim_version();
  j["git_revision"] = git_revision();
  j["build_type"] = build_type();
  j["argv"] = command_line;
  j["host_seconds"] = host_seconds;
  j["peak_rss_bytes"] = peak_rss_bytes();
  return j;
}

nlohmann::json SimOptions::result_envelope(const std::vector<std::string>& command_line, const hw::ArchParams& arch,
                                           double host_seconds, std::uint64_t simulated_cycles) const {
  nlohmann::json j = runtime::result_envelope(command_line, host_seconds);
  j["simulated_cycles"] = simulated_cycles;
  j["simulated_microseconds"] = arch.cycles_to_us(double(simulated_cycles));
  j["simulated_cycles_per_host_second"] = host_seconds > 0 ? double(simulated_cycles) / host_seconds : 0.0;
  j["overrides"] = overrides;
  j["config"] = hw::to_json(arch);
  return j;
}

void write_json(const std::string& path, const nlohmann::json& j) {
  write_file_atomically(path, [&](std::ostream& os) { os << j.dump(2) << "\n"; });
}

}  // namespace wafersim::runtime
