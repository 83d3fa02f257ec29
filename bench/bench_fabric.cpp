// `wafersim bench fabric`: synthetic traffic on a mesh of the configured fabric, timed in wavelet-hops per second
// of wall time, with elaboration time and peak memory (docs/performance.md).
#include <iostream>

#include "common/atomic_file.hpp"
#include "fabric/stats.hpp"
#include "bench/traffic.hpp"
#include "fabric/wafer.hpp"
#include "runtime/cli/options.hpp"
#include "runtime/sim_options.hpp"

namespace wafersim {
namespace {

// 10^12 cycles is about 15 simulated minutes at 1.1 GHz and days of host time even on a small mesh.
constexpr fabric::Cycle kMaxCycles = 1'000'000'000'000;

int bench_fabric(int argc, char** argv) {
  namespace po = boost::program_options;
  runtime::SimOptions sim;
  bench::TrafficConfig traffic;
  po::options_description desc("options");
  sim.add_to(desc, "64x64");
  desc.add_options()
      ("pattern", po::value(&traffic.pattern)->default_value("uniform"),
       "uniform (random neighbour segments of --hops hops), row-broadcast (column 0 streams along each row), "
       "none (only build the fabric)")
      ("cycles", cli::number<fabric::Cycle>(&traffic.cycles, 1, kMaxCycles)->default_value(2000),
       "cycles of injected traffic (the run stops there), at most 10^12")
      ("rate", cli::number(&traffic.rate, 0.0, 1.0)->above()->default_value(0.5), "uniform: injection probability per PE per cycle, (0, 1]")
      ("hops", cli::number(&traffic.hops, 1)->default_value(3), "uniform: hops per wavelet (uses 4*(hops+1) colours)")
      ("seed", cli::number<std::uint64_t>(&traffic.seed, 0)->default_value(1), "random seed");
  po::variables_map vm;
  if (!cli::parse_options(argc, argv, desc, vm, "[options]")) return 0;
  sim.check_outputs();

  const hw::ArchParams arch = sim.arch();
  const auto [w, h] = sim.mesh_size(arch);
  runtime::Stopwatch elab_clock;
  fabric::Wafer::set_time_resolution();
  fabric::Fabric fab(arch, w, h, sim.data_mode());
  bench::Traffic driver(fab, traffic);
  fabric::Wafer wafer("wafer", fab);
  sim.start_trace(wafer);
  fab.prepare();  // route validation and state packing count as elaboration
  const double elaboration = elab_clock.seconds();

  runtime::Stopwatch run_clock;
  sim.show_progress(wafer, "bench fabric", traffic.cycles);
  if (traffic.pattern != "none") wafer.run(traffic.cycles);  // stops at the cycle limit: open-loop traffic
  const double host = run_clock.seconds();
  wafer.finish_trace();

  const auto& st = fab.stats();
  const double hops_per_s = host > 0 ? double(st.wavelet_hops) / host : 0.0;
  text_stream(sim.json) << "bench fabric: " << traffic.pattern << " on " << w << "x" << h << " (" << arch.name << ")\n"
            << "  elaboration     " << elaboration << " s (" << fab.num_pes() << " PEs, SystemC modules included)\n"
            << "  simulated       " << st.cycles << " cycles (" << arch.cycles_to_us(double(st.cycles)) << " us at "
            << arch.clock_hz / 1e9 << " GHz)\n"
            << "  wavelet hops    " << st.wavelet_hops << " (" << driver.injected() << " injected, "
            << driver.delivered() << " delivered, " << st.stall_cycles << " stall cycles)\n"
            << "  host time       " << host << " s -> " << hops_per_s / 1e6 << " M wavelet-hops/s, "
            << (host > 0 ? double(st.cycles) / host : 0.0) << " cycles/s\n"
            << "  peak RSS        " << double(runtime::peak_rss_bytes()) / (1 << 20) << " MiB\n";
  if (!sim.json.empty()) {
    nlohmann::json j = sim.result_envelope(cli::command_line(argc, argv), arch, host, st.cycles);
    j["pattern"] = traffic.pattern;
    j["mesh"] = {w, h};
    j["cycles_requested"] = traffic.cycles;
    j["rate"] = traffic.rate;
    j["hops"] = traffic.hops;
    j["seed"] = traffic.seed;
    j["colors_used"] = driver.colors_used();
    j["wavelet_hops_per_second"] = hops_per_s;
    j["elaboration_seconds"] = elaboration;
    j["injected"] = driver.injected();
    j["delivered"] = driver.delivered();
    j["stats"] = fabric::stats_to_json(fab);
    runtime::write_json(sim.json, j);
  }
  return 0;
}

const cli::CommandRegistration reg("bench fabric", "synthetic traffic on the fabric: wavelet-hops/s, elaboration, memory",
                                   bench_fabric);

}  // namespace
}  // namespace wafersim
