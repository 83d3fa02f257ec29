// `wafersim bench gemv`: y[1,N] = x[1,K] * W[K,N] on a WxH mesh (K cut along X, N along Y) with MeshGEMV (local GEMV + K-tree allreduce) or a
// baseline (pipeline: the Cerebras demo's chain reduction; ring allreduce), firmware/kernels/meshgemv.hpp. Prints
// cycles, microseconds, compute efficiency, communication share, the cost model's cycles, colours and SRAM per PE;
// --verify checks y against the CPU matmul with the accumulation type's error bound (exit 1 on mismatch).
// docs/kernels-gemv.md.
#include <cmath>
#include <iostream>
#include <random>

#include "common/atomic_file.hpp"
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
  std::string algo, accum;
  std::uint32_t k = 0, n = 0, seed = 1;
  int groups = 0, levels = 2;
  bool verify = false;
  po::options_description desc("options");
  sim.add_to(desc, "8x8");
  desc.add_options()
      ("algo", po::value(&algo)->default_value("mesh"), "mesh (K-tree allreduce) | pipeline | ring")
      ("k", cli::number(&k, 1u)->default_value(512), "K: length of x, rows of W")
      ("n", cli::number(&n, 1u)->default_value(512), "N: columns of W, length of y")
      ("groups", cli::number(&groups, 0)->default_value(0),
       "mesh: K-tree level-1 groups G, 1..P (0: round(sqrt(P)), --levels 3: round(P^(2/3)))")
      ("levels", cli::number(&levels, 2, 3)->default_value(2), "mesh: K-tree levels, 2 or 3")
      ("accum", po::value(&accum)->default_value("fp16"), "fp16 (fmach, as the paper) | fp32 (fmachs)")
      ("seed", cli::number(&seed, 0u)->default_value(1), "random seed of x and W")
      ("verify", po::bool_switch(&verify), "check y against a CPU matmul; exit 1 on mismatch");
  po::variables_map vm;
  if (!cli::parse_options(argc, argv, desc, vm, "[options]")) return 0;
  sim.check_outputs();
  if (algo != "mesh" && algo != "pipeline" && algo != "ring")
    throw cli::UsageError("--algo " + algo + ": expected mesh, pipeline or ring");
  if (accum != "fp16" && accum != "fp32") throw cli::UsageError("--accum " + accum + ": expected fp16 or fp32");
  if (verify && sim.timing_only) throw cli::UsageError("--verify needs payloads: drop --timing-only");
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
                                .fp32_accumulate = accum == "fp32", .ktree = {.k = levels, .groups = groups}};

  runtime::Stopwatch clock;
  // Refuses a block over the SRAM or a colour plan over the budget (CapacityError) before anything is simulated.
  kernels::GemvLayout g = kernels::meshgemv(cfg, arch);
  runtime::Device dev(arch, w, h, sim.data_mode());
  sim.start_trace(dev.wafer());
  dev.load(*g.layout);
  std::mt19937 rng(seed);
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

  bool ok = finished;
  double max_err = 0, tol_max = 0;
  if (verify) {
    const std::vector<float> y = kernels::read_gemv_output(g);
    const std::vector<double> exact = kernels::matmul(x, wm, 1, k, n);
    const std::vector<double> tol = kernels::gemv_error_bounds(cfg, x, wm);
    for (std::uint32_t j = 0; j < n; ++j) {
      const double err = std::abs(y[j] - exact[j]);
      max_err = std::max(max_err, err);
      tol_max = std::max(tol_max, tol[j]);
      if (err > tol[j] && ok) {
        std::cerr << "bench gemv: mismatch at y[" << j << "]: got " << y[j] << ", expected " << exact[j]
                  << " (tolerance " << tol[j] << ")\n";
        ok = false;
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
         << accum << " accumulation, blocks " << g.ks.block << "x" << g.ns.block << ", on " << arch.name << "\n"
         << "  cycles              " << r.cycles << (r.completed ? "" : " (stopped)") << "\n"
         << "  model cycles        "
         << model.first << (model.second != model.first ? ".." + std::to_string(model.second) : "") << " ("
         << model_kind << "; local GEMV " << local << ")"
         << "\n"
         << "  microseconds        " << r.microseconds << " at " << arch.clock_hz / 1e9 << " GHz\n"
         << "  compute efficiency  " << efficiency << " (useful FMACs / (PEs x SIMD " << simd << " x cycles))\n"
         << "  comm share          " << comm_share << "\n"
         << "  colours per PE      " << g.colors_per_pe_max << " (max)\n"
         << "  SRAM bytes per PE   " << g.sram_bytes_per_pe << " (of " << arch.pe.sram_bytes - arch.pe.code_reserve_bytes
         << " above the code reserve)\n"
         << "  finished            " << (finished ? "yes" : "NO") << "\n";
  if (verify)
    report << "  verified            " << (ok ? "yes" : "NO") << " (max abs error " << max_err << ", tolerance up to "
           << tol_max << ")\n";
  report << "  host time           " << host << " s, peak RSS " << double(runtime::peak_rss_bytes()) / (1 << 20)
         << " MiB\n";
  if (!sim.json.empty()) {
    nlohmann::json j = sim.result_envelope(cli::command_line(argc, argv), arch, host, r.cycles);
    j["algo"] = algo;
    j["mesh"] = {w, h};
    j["P"] = P;
    j["k"] = k;
    j["n"] = n;
    j["accum"] = accum;
    j["levels"] = algo == "mesh" ? nlohmann::json(levels) : nlohmann::json(nullptr);
    j["groups"] = algo == "mesh" ? nlohmann::json(groups ? groups : kernels::ktree_default_groups(P, levels))
                                 : nlohmann::json(nullptr);
    j["seed"] = seed;
    j["block"] = {g.ks.block, g.ns.block};
    j["compute_efficiency"] = efficiency;
    j["comm_share"] = comm_share;
    j["local_cycles"] = local;
    j["model_cycles"] = {model.first, model.second};
    j["model"] = model_kind;
    j["colors_per_pe_max"] = g.colors_per_pe_max;
    j["sram_bytes_per_pe_max"] = g.sram_bytes_per_pe;
    j["finished"] = finished;
    j["verified"] = verify ? nlohmann::json(ok) : nlohmann::json(nullptr);
    j["max_abs_error"] = verify ? nlohmann::json(max_err) : nlohmann::json(nullptr);
    j["tolerance_max"] = verify ? nlohmann::json(tol_max) : nlohmann::json(nullptr);
    runtime::write_json(sim.json, j);
  }
  return ok ? 0 : 1;
}

const cli::CommandRegistration reg("bench gemv",
                                   "MeshGEMV / pipeline / ring GEMV y = x * W on a WxH mesh: cycles, efficiency, model",
                                   bench_gemv);

}  // namespace
}  // namespace wafersim
