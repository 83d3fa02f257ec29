// `wafersim bench gemv`: y[1,N] = x[1,K] * W[K,N] on a WxH mesh (K cut along X, N along Y) with MeshGEMV (local GEMV + K-tree allreduce) or a
// baseline (pipeline: the Cerebras demo's chain reduction; ring allreduce), firmware/kernels/meshgemv.hpp. Prints
// cycles, microseconds, compute efficiency, communication share, the cost model's cycles, colours and SRAM per PE;
// --verify checks y against the CPU matmul with the accumulation type's error bound (exit 1 on mismatch).
// docs/kernels-gemv.md.
#include <cmath>
#include <iostream>
#include <random>

#include "common/atomic_file.hpp"
#include "bench/kernel_bench.hpp"
#include "common/error.hpp"
#include "firmware/kernels/meshgemv.hpp"
#include "firmware/kernels/reduction_oracle.hpp"
#include "runtime/cli/options.hpp"
#include "runtime/device.hpp"
#include "runtime/sim_options.hpp"

namespace wafersim {
namespace {

using kernels::GemvAlgo;

int bench_gemv(int argc, char** argv) {
  namespace po = boost::program_options;
  runtime::SimOptions sim;
  bench::KernelBenchOptions opt;
  std::string algo;
  std::uint32_t k = 0, n = 0;
  int groups = 0, levels = 2;
  po::options_description desc("options");
  sim.add_to(desc, "8x8");
  desc.add_options()
      ("algo", po::value(&algo)->default_value("mesh"), "mesh (K-tree allreduce) | pipeline | ring")
      ("k", cli::number(&k, 1u)->default_value(512), "K: length of x, rows of W")
      ("n", cli::number(&n, 1u)->default_value(512), "N: columns of W, length of y")
      ("groups", cli::number(&groups, 0)->default_value(0),
       "mesh: K-tree level-1 groups G, 1..P (0: round(sqrt(P)), --levels 3: round(P^(2/3)))")
      ("levels", cli::number(&levels, 2, 3)->default_value(2), "mesh: K-tree levels, 2 or 3");
  opt.add_to(desc, "fp16 (fmach, as the paper) | fp32 (fmachs)", "x and W", "y");
  po::variables_map vm;
  if (!cli::parse_options(argc, argv, desc, vm, "[options]")) return 0;
  sim.check_outputs();
  if (algo != "mesh" && algo != "pipeline" && algo != "ring")
    throw cli::UsageError("--algo " + algo + ": expected mesh, pipeline or ring");
  opt.check(sim);
  for (const char* option : {"groups", "levels"})
    if (algo != "mesh" && !vm[option].defaulted())
      throw cli::UsageError(std::string("--") + option + " applies to --algo mesh only (not " + algo + ")");

  const hw::ArchParams arch = sim.arch();
  const auto [w, h] = sim.mesh_size(arch);
  const int P = w;  // K is cut along X (the allreduce's line), N along Y
  if (groups > P)
    cli::option_error("--groups", groups, "must be from 1 to the mesh width " + std::to_string(P) + ", or 0");
  const kernels::GemvConfig cfg{.P = P, .height = h, .k = k, .n = n,
                                .algo = algo == "mesh" ? GemvAlgo::Mesh : algo == "pipeline" ? GemvAlgo::Pipeline
                                                                                              : GemvAlgo::Ring,
                                .fp32_accumulate = opt.fp32(), .ktree = {.k = levels, .groups = groups}};

  runtime::Stopwatch clock;
  // Refuses a block over the SRAM or a colour plan over the budget (CapacityError) before anything is simulated.
  kernels::GemvLayout g = kernels::meshgemv(cfg, arch);
  runtime::Device dev(arch, w, h, sim.data_mode());
  sim.start_trace(dev.wafer());
  dev.load(*g.layout);
  std::mt19937 rng(opt.seed);
  std::vector<float> x, wm;
  if (!sim.timing_only) {
    x = kernels::random_inputs(k, rng, kernels::DType::F16);
    wm = kernels::random_inputs(std::size_t(k) * n, rng, kernels::DType::F16);
    kernels::write_gemv_inputs(g, x, wm);
  }
  sim.show_progress(dev.wafer(), "bench gemv");
  dev.launch("gemv");
  const runtime::RunReport r = dev.run();
  dev.wafer().finish_trace();
  const bool finished = kernels::gemv_finished(g);
  bench::KernelBenchCheck check{.finished = finished, .ok = finished};
  if (opt.verify) {
    const std::vector<float> y = kernels::read_gemv_output(g);
    const std::vector<double> exact = kernels::matmul(x, wm, 1, k, n);
    const std::vector<double> tol = kernels::gemv_error_bounds(cfg, x, wm);
    for (std::uint32_t j = 0; j < n; ++j) {
      const double err = std::abs(y[j] - exact[j]);
      check.max_err = std::max(check.max_err, err);
      check.tol_max = std::max(check.tol_max, tol[j]);
      if (err > tol[j] && check.ok) {
        std::cerr << "bench gemv: mismatch at y[" << j << "]: got " << y[j] << ", expected " << exact[j]
                  << " (tolerance " << tol[j] << ")\n";
        check.ok = false;
      }
    }
  }
  const double host = clock.seconds();
  const auto model = kernels::gemv_model_cycles(g, arch);
  const hw::Cycle local = kernels::gemv_local_cycles(cfg, arch);
  const int simd = cfg.fp32_accumulate ? arch.pe.simd.fmachs : arch.pe.simd.fmach;
  const double cycles = double(std::max<hw::Cycle>(r.cycles, 1));
  const double efficiency = double(kernels::gemv_useful_fmacs(cfg)) / (double(w) * h * simd * cycles);
  // The critical path computes for the local GEMV's cycles, then waits on the allreduce (fabric and CE stages).
  const double comm_share = std::max(0.0, (cycles - double(local)) / cycles);
  const std::string model_kind = kernels::gemv_model_kind(g);

  std::ostream& report = text_stream(sim.json);
  report << "bench gemv: " << algo
         << (algo == "mesh" ? " (K-tree K=" + std::to_string(levels) + " G=" +
                                  std::to_string(groups ? groups : kernels::ktree_default_groups(P, levels)) + ")"
                            : std::string())
         << " y[1," << n << "] = x[1," << k << "] * W[" << k << "," << n << "] on " << w << "x" << h << ", "
         << opt.accum << " accumulation, blocks " << g.ks.block << "x" << g.ns.block << ", on " << arch.name << "\n"
         << "  cycles              " << r.cycles << (r.completed ? "" : " (stopped)") << "\n"
         << "  model cycles        "
         << model.first << (model.second != model.first ? ".." + std::to_string(model.second) : "") << " ("
         << model_kind << "; local GEMV " << local << ")"
         << "\n"
         << "  microseconds        " << r.microseconds << " at " << arch.clock_hz / 1e9 << " GHz\n"
         << "  compute efficiency  " << efficiency << " (useful FMACs / (PEs x SIMD " << simd << " x cycles))\n"
         << "  comm share          " << comm_share << "\n"
         << "  colours per PE      " << g.colors_per_pe_max << " (max)\n"
         << "  SRAM bytes per PE   " << g.sram_bytes_per_pe + arch.pe.code_reserve_bytes << " (of " << arch.pe.sram_bytes
         << ", including " << arch.pe.code_reserve_bytes << " reserved for code)\n";
  bench::report_tail(report, opt, check, host);
  if (!sim.json.empty()) {
    nlohmann::json j = sim.result_envelope(cli::command_line(argc, argv), arch, host, r.cycles);
    j["algo"] = algo;
    j["mesh"] = {w, h};
    j["P"] = P;
    j["k"] = k;
    j["n"] = n;
    bench::json_tail(j, opt, check);
    j["levels"] = algo == "mesh" ? nlohmann::json(levels) : nlohmann::json(nullptr);
    j["groups"] = algo == "mesh" ? nlohmann::json(groups ? groups : kernels::ktree_default_groups(P, levels))
                                 : nlohmann::json(nullptr);
    j["block"] = {g.ks.block, g.ns.block};
    j["compute_efficiency"] = efficiency;
    j["comm_share"] = comm_share;
    j["local_cycles"] = local;
    j["model_cycles"] = {model.first, model.second};
    j["model"] = model_kind;
    j["colors_per_pe_max"] = g.colors_per_pe_max;
    j["sram_bytes_per_pe_max"] = g.sram_bytes_per_pe + arch.pe.code_reserve_bytes;  // as generate: symbols + code reserve
    j["tolerance_max"] = opt.verify ? nlohmann::json(check.tol_max) : nlohmann::json(nullptr);
    runtime::write_json(sim.json, j);
  }
  return check.ok ? 0 : 1;
}

const cli::CommandRegistration reg("bench gemv",
                                   "MeshGEMV / pipeline / ring GEMV y = x * W on a WxH mesh: cycles, efficiency, model",
                                   bench_gemv);

}  // namespace
}  // namespace wafersim
