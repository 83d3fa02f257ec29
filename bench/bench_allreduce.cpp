// `wafersim bench allreduce`: one allreduce (K-tree, pipeline or ring) along X or Y of a mesh on the cycle-level fabric,
// or along X then Y in one program (--axis xy: an X module and a Y module per PE, the sum over the whole mesh), loaded
// and fed through the host runtime's Device; prints cycles, the cost model's prediction, microseconds at the configured
// clock and colours per PE, optionally checks the result against a CPU reduction (--verify: exit 1 on mismatch).
// docs/performance.md.
#include <cmath>
#include <iostream>
#include <random>

#include "common/atomic_file.hpp"
#include "common/error.hpp"
#include "firmware/kernels/cost_model.hpp"
#include "firmware/kernels/ktree_allreduce.hpp"
#include "firmware/kernels/pipeline_allreduce.hpp"
#include "firmware/kernels/reduction_oracle.hpp"
#include "firmware/kernels/ring_allreduce.hpp"
#include "runtime/cli/options.hpp"
#include "runtime/device.hpp"
#include "runtime/sim_options.hpp"

namespace wafersim {
namespace {

using kernels::DType;

// The largest --len whose per-PE arrays fit the SRAM above the code reserve: every algorithm keeps the vector `x`
// (len elements of the data type); the ring with fp32 accumulation of fp16 data also keeps one `acc` (len fp32) per
// module (`phases`: 2 for --axis xy). The arrays are allocated in declaration order at 4-byte alignment
// (csl::Program::attach).
std::uint64_t max_length(const kernels::CollectiveConfig& cfg, const hw::ArchParams& arch, const std::string& algo,
                         int phases) {
  const std::uint64_t elem = cfg.dtype == DType::F16 ? 2 : 4;
  const int accs = algo == "ring" && cfg.acc_type() != cfg.dtype ? phases : 0;
  auto align4 = [](std::uint64_t a) { return (a + 3) / 4 * 4; };
  auto end = [&](std::uint64_t len) {
    std::uint64_t e = align4(arch.pe.code_reserve_bytes) + elem * len;
    for (int i = 0; i < accs; ++i) e = align4(e) + 4 * len;
    return e;
  };
  if (end(0) >= arch.pe.sram_bytes) return 0;
  std::uint64_t len = (arch.pe.sram_bytes - end(0)) / (elem + 4 * std::uint64_t(accs));
  while (len > 0 && end(len) > arch.pe.sram_bytes) --len;
  return len;
}

int bench_allreduce(int argc, char** argv) {
  namespace po = boost::program_options;
  runtime::SimOptions sim;
  std::string algo, axis, dtype, op;
  std::uint64_t len = 0;
  int groups = 0, groups_y = 0, groups2 = 0, k = 2;
  std::uint32_t seed = 1;
  bool verify = false, acc32 = false, simd32 = false;
  po::options_description desc("options");
  sim.add_to(desc, "256x1");
  desc.add_options()
      ("algo", po::value(&algo)->default_value("ktree"), "ktree | pipeline | ring")
      ("axis", po::value(&axis)->default_value("x"),
       "x (every row reduces) | y (every column) | xy (rows, then columns, in one program: the whole mesh)")
      ("len", cli::number<std::uint64_t>(&len, 1)->default_value(64), "elements per PE (at most what fits the SRAM)")
      ("groups", cli::number(&groups, 0)->default_value(0),
       "ktree: level-1 groups G, 1..P (0: round(sqrt(P)), K=3: round(P^(2/3))); --axis xy: both phases")
      ("levels", cli::number(&k, 2, 3)->default_value(2), "ktree: levels K, 2 or 3")
      ("k", cli::number<int>(2, 3), "alias of --levels")
      ("groups2", cli::number(&groups2, 0)->default_value(0), "ktree K=3: groups of level-1 roots, 1..G (0: round(P^(1/3)))")
      ("dtype", po::value(&dtype)->default_value("fp32"), "fp16 | fp32")
      ("op", po::value(&op)->default_value("sum"), "sum | max")
      ("fp32-acc", po::bool_switch(&acc32), "fp16 data: accumulate in fp32")
      ("simd32", po::bool_switch(&simd32), "fp16 data: two values per wavelet (simd_32 fabric DSDs)")
      ("seed", cli::number(&seed, 0u)->default_value(1), "random seed of the input vectors")
      ("verify", po::bool_switch(&verify), "check every PE's result against a CPU reduction; exit 1 on mismatch");
  po::variables_map vm;
  if (!cli::parse_options(argc, argv, desc, vm, "[options]")) return 0;
  sim.check_outputs();
  if (algo != "ktree" && algo != "pipeline" && algo != "ring")
    throw cli::UsageError("--algo " + algo + ": expected ktree, pipeline or ring");
  if (axis != "x" && axis != "y" && axis != "xy") throw cli::UsageError("--axis " + axis + ": expected x, y or xy");
  const bool xy = axis == "xy";
  if (dtype != "fp16" && dtype != "fp32") throw cli::UsageError("--dtype " + dtype + ": expected fp16 or fp32");
  if (op != "sum" && op != "max") throw cli::UsageError("--op " + op + ": expected sum or max");
  if (verify && sim.timing_only) throw cli::UsageError("--verify needs payloads: drop --timing-only");
  if (simd32 && (dtype != "fp16" || (acc32 && op == "sum")))
    throw cli::UsageError("--simd32 packs fp16 partials: it needs --dtype fp16 and no fp32 accumulation (--fp32-acc)");
  if (vm.count("k")) {
    if (!vm["levels"].defaulted()) throw cli::UsageError("--k is an alias of --levels: give one of them");
    k = vm["k"].as<int>();
  }
  for (const char* option : {"groups", "levels", "k", "groups2"})
    if (algo != "ktree" && vm.count(option) && !vm[option].defaulted())
      throw cli::UsageError(std::string("--") + option + " applies to --algo ktree only (not " + algo + ")");
  if (k != 3 && !vm["groups2"].defaulted()) throw cli::UsageError("--groups2 applies to --levels 3 only");

  const hw::ArchParams arch = sim.arch();
  const auto [w, h] = sim.mesh_size(arch);
  kernels::CollectiveConfig cfg{.width = w, .height = h, .axis = axis == "y" ? kernels::Axis::Y : kernels::Axis::X,
                                .length = 1, .dtype = dtype == "fp16" ? DType::F16 : DType::F32,
                                .op = op == "sum" ? kernels::ReduceOp::Sum : kernels::ReduceOp::Max,
                                .fp32_accumulate = acc32, .simd32 = simd32};
  // Limits first, before anything is allocated on the host.
  const std::uint64_t len_max = max_length(cfg, arch, algo, xy ? 2 : 1);
  if (len > len_max)
    cli::option_error("--len", len, "must be from 1 to " + std::to_string(len_max) + ": the per-PE arrays of " +
                                         algo + " " + dtype + " must fit the " + std::to_string(arch.pe.sram_bytes) +
                                         " bytes of SRAM less " + std::to_string(arch.pe.code_reserve_bytes) +
                                         " reserved for code (" + arch.name + ")");
  cfg.length = static_cast<std::uint32_t>(len);
  const int P = xy ? w * h : cfg.line_length();
  const int P_line = cfg.line_length(), P_y = h;  // the (first) phase's line; --axis xy: the Y phase's line
  const std::string line = "the " + std::to_string(xy ? std::min(w, h) : P) + " PEs along " +
                           (xy ? std::string(w <= h ? "x" : "y") : axis) + " of the " + std::to_string(w) + "x" +
                           std::to_string(h) + " mesh";
  if (algo == "ktree") {
    const int shortest = xy ? std::min(w, h) : P_line;
    if (groups > shortest)
      cli::option_error("--groups", groups, "must be from 1 to " + std::to_string(shortest) + " (" + line + "), or 0");
    const bool given = groups > 0;
    if (!given) groups = kernels::ktree_default_groups(P_line, k);
    if (xy) groups_y = given ? groups : kernels::ktree_default_groups(P_y, k);
    if (k == 3) {
      if (groups2 > std::min(groups, xy ? groups_y : groups))
        cli::option_error("--groups2", groups2, "must be from 1 to G = " + std::to_string(std::min(groups, xy ? groups_y : groups)) +
                                                    " (the level-1 groups), or 0");
      if (groups2 == 0) groups2 = std::min(groups, kernels::ktree_default_groups2(P_line));
    }
  }

  runtime::Stopwatch clock;
  // One phase's plan; --axis xy runs an X phase and a Y phase (its own groups) in one program.
  const auto plan = [&](const kernels::CollectiveConfig& c) {
    const int g = c.axis == kernels::Axis::Y && xy ? groups_y : groups;
    const int g2 = k == 3 ? std::min(groups2, g) : groups2;
    return algo == "ktree"      ? kernels::ktree_plan(c, arch, {.k = k, .groups = g, .groups2 = g2})
           : algo == "pipeline" ? kernels::pipeline_plan(c, arch)
                                : kernels::ring_plan(c, arch);
  };
  kernels::CollectiveLayout c = xy ? kernels::allreduce_xy(cfg, arch, plan)
                                   : kernels::collective_layout({plan(cfg)}, algo + "_allreduce", "allreduce");
  runtime::Device dev(arch, w, h, sim.data_mode());
  sim.start_trace(dev.wafer());
  dev.load(*c.layout);

  // Inputs: uniform in [-1, 1), rounded to the element type; one block per PE, row-major.
  std::mt19937 rng(seed);
  const std::vector<float> in = sim.timing_only ? std::vector<float>{}
                                                : kernels::random_inputs(std::size_t(w) * h * len, rng, cfg.dtype);
  if (!sim.timing_only) {
    if (cfg.dtype == DType::F32) {
      dev.memcpy_h2d<float>("x", {0, 0, w, h}, in, len);
    } else {
      std::vector<csl::f16> hin(in.size());
      for (std::size_t i = 0; i < in.size(); ++i) hin[i] = csl::f16(in[i]);
      dev.memcpy_h2d<csl::f16>("x", {0, 0, w, h}, hin, len);
    }
  }
  sim.show_progress(dev.wafer(), "bench allreduce");
  dev.launch(c.function);
  const runtime::RunReport r = dev.run();
  dev.wafer().finish_trace();
  const bool finished = kernels::all_finished(*c.layout);

  bool ok = finished;
  double max_err = 0;
  if (verify) {
    std::vector<float> out(in.size());
    if (cfg.dtype == DType::F32) {
      out = dev.memcpy_d2h<float>("x", {0, 0, w, h}, len);
    } else {
      const auto hout = dev.memcpy_d2h<csl::f16>("x", {0, 0, w, h}, len);
      for (std::size_t i = 0; i < out.size(); ++i) out[i] = hout[i].to_float();
    }
    const auto input = [&](int x, int y, std::uint32_t k) { return double(in[(std::size_t(y) * w + x) * len + k]); };
    // The PEs that must hold one reduction: a line, or (xy) the whole mesh.
    const int groups_of_pes = xy ? 1 : cfg.lines();
    for (int l = 0; l < groups_of_pes && ok; ++l)
      for (std::uint32_t k = 0; k < len && ok; ++k) {
        const auto [exact, tol] = xy ? kernels::reduce_mesh(cfg, k, input) : kernels::reduce_line(cfg, l, k, input);
        for (int p = 0; p < P; ++p) {
          int x = p % w, y = p / w;
          if (!xy) kernels::line_to_xy(cfg, l, p, x, y);
          const double err = std::abs(out[(std::size_t(y) * w + x) * len + k] - exact);
          max_err = std::max(max_err, err);
          if (err > tol) {
            std::cerr << "bench allreduce: mismatch at PE(" << x << "," << y << ") element " << k << ": got "
                      << out[(std::size_t(y) * w + x) * len + k] << ", expected " << exact << " (tolerance " << tol
                      << ")\n";
            ok = false;
            break;
          }
        }
      }
  }
  const double host = clock.seconds();
  const bool modelled = kernels::has_cost_model(c);
  const auto model = modelled ? kernels::predicted_cycles(c, arch, cfg.length) : std::pair<hw::Cycle, hw::Cycle>{0, 0};
  const std::string model_kind = !modelled ? "" : kernels::cost_model_exact(c) && len == 1 ? "exact" : xy ? "estimate" : "lower bound";
  std::ostream& report = text_stream(sim.json);  // stderr when the JSON goes to stdout
  report << "bench allreduce: " << algo
            << (algo == "ktree" ? " K=" + std::to_string(k) + " G=" + std::to_string(groups) +
                                      (xy ? " G_y=" + std::to_string(groups_y) : "") +
                                      (k == 3 ? " G2=" + std::to_string(groups2) : "")
                                : "")
            << " along "
            << axis << " of " << w << "x" << h << " (P=" << P << "), len " << len << " " << dtype << " " << op
            << (acc32 ? " (fp32 accumulation)" : "") << (simd32 ? " (simd_32)" : "") << " on " << arch.name << "\n"
            << "  cycles          " << r.cycles << (r.completed ? "" : " (stopped)") << "\n"
            << "  model cycles    "
            << (modelled ? std::to_string(model.first) +
                               (model.second != model.first ? ".." + std::to_string(model.second) : "") + " (" +
                               model_kind + ")"
                         : std::string("none (the ring has no cost model)"))
            << "\n"
            << "  microseconds    " << r.microseconds << " at " << arch.clock_hz / 1e9 << " GHz\n"
            << "  colours per PE  " << c.colors_per_pe_max << " (max; " << c.colors_used.size()
            << " distinct, budget " << arch.router.routable_colors - int(arch.host_io.reserved_colors.size()) << ")\n"
            << "  finished        " << (finished ? "yes" : "NO") << "\n";
  if (verify) report << "  verified        " << (ok ? "yes" : "NO") << " (max abs error " << max_err << ")\n";
  report << "  host time       " << host << " s, peak RSS " << double(runtime::peak_rss_bytes()) / (1 << 20)
            << " MiB\n";
  if (!sim.json.empty()) {
    nlohmann::json j = sim.result_envelope(cli::command_line(argc, argv), arch, host, r.cycles);
    j["colors_per_pe_max"] = c.colors_per_pe_max;
    j["colors_used"] = c.colors_used;
    j["verified"] = verify ? nlohmann::json(ok) : nlohmann::json(nullptr);
    j["finished"] = finished;
    j["algo"] = algo;
    j["axis"] = axis;
    j["mesh"] = {w, h};
    j["P"] = P;
    j["len"] = len;
    j["groups"] = algo == "ktree" ? nlohmann::json(groups) : nlohmann::json(nullptr);
    j["groups_y"] = algo == "ktree" && xy ? nlohmann::json(groups_y) : nlohmann::json(nullptr);
    j["model_cycles"] = modelled ? nlohmann::json({model.first, model.second}) : nlohmann::json(nullptr);
    j["model"] = modelled ? nlohmann::json(model_kind) : nlohmann::json(nullptr);
    j["levels"] = algo == "ktree" ? nlohmann::json(k) : nlohmann::json(nullptr);
    j["groups2"] = algo == "ktree" && k == 3 ? nlohmann::json(groups2) : nlohmann::json(nullptr);
    j["dtype"] = dtype;
    j["op"] = op;
    j["fp32_accumulate"] = acc32;
    j["simd32"] = simd32;
    j["seed"] = seed;
    runtime::write_json(sim.json, j);
  }
  return ok ? 0 : 1;
}

const cli::CommandRegistration reg("bench allreduce",
                                   "K-tree / pipeline / ring allreduce along one axis: cycles, microseconds, colours",
                                   bench_allreduce);

}  // namespace
}  // namespace wafersim
