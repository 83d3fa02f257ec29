// `wafersim bench gemm`: C = A*B (A: m x k, B: k x n, fp16) on a P x P mesh with MeshGEMM (--algo mesh, the
// INTERLEAVE ring), Cannon (--algo cannon, the linear ring with its wrap-around), SUMMA (--algo summa), or
// C = A*B^T with B stored n x k by dist-GEMM-T (--algo dist-t), loaded and fed through the host
// runtime's Device; prints cycles, microseconds, compute efficiency, communication share, the cost model's cycles,
// colours and SRAM per PE, optionally checks C against a CPU matmul (--verify: exit 1 on mismatch). docs/kernels-gemm.md.
#include <cmath>
#include <iostream>
#include <random>

#include "common/atomic_file.hpp"
#include "bench/kernel_bench.hpp"
#include "common/error.hpp"
#include "firmware/kernels/cannon.hpp"
#include "firmware/kernels/dist_gemm_t.hpp"
#include "firmware/kernels/meshgemm.hpp"
#include "firmware/kernels/summa.hpp"
#include "runtime/cli/options.hpp"
#include "runtime/device.hpp"
#include "runtime/sim_options.hpp"

namespace wafersim {
namespace {

int bench_gemm(int argc, char** argv) {
  namespace po = boost::program_options;
  runtime::SimOptions sim;
  bench::KernelBenchOptions opt;
  std::string algo;
  std::uint32_t m = 0, k = 0, n = 0;
  po::options_description desc("options");
  sim.add_to(desc, "4x4");
  desc.add_options()
      ("algo", po::value(&algo)->default_value("mesh"),
       "mesh (MeshGEMM, INTERLEAVE ring) | cannon | summa | dist-t (C = A*B^T, B given n x k)")
      ("m", cli::number<std::uint32_t>(&m, 1)->default_value(64), "rows of A and C")
      ("k", cli::number<std::uint32_t>(&k, 1)->default_value(64), "columns of A, rows of B")
      ("n", cli::number<std::uint32_t>(&n, 1)->default_value(64), "columns of B and C");
  opt.add_to(desc, "fp16 (fmach) | fp32 (fmachs)", "A and B", "C");
  po::variables_map vm;
  if (!cli::parse_options(argc, argv, desc, vm, "[options]")) return 0;
  sim.check_outputs();
  if (algo != "mesh" && algo != "cannon" && algo != "summa" && algo != "dist-t")
    throw cli::UsageError("--algo " + algo + ": expected mesh, cannon, summa or dist-t");
  const bool transposed = algo == "dist-t";
  opt.check(sim);

  const hw::ArchParams arch = sim.arch();
  const auto [w, h] = sim.mesh_size(arch);
  if (w != h)
    cli::option_error("--mesh", std::to_string(w) + "x" + std::to_string(h),
                      "must be square (PxP): every GEMM here runs P steps that each pair a block of A moved along X "
                      "with a block of B moved along Y (or broadcast), so both axes need the same P; a WxH mesh "
                      "would need the paper's lcm(W,H) x lcm(W,H) logical tiling, which is not implemented");
  const kernels::GemmConfig cfg{.P = w, .m = m, .k = k, .n = n, .fp32_accumulate = opt.fp32()};
  runtime::Stopwatch clock;
  // Limits (SRAM, colours) are checked here, before the device is built.
  kernels::GemmLayout g = algo == "mesh"     ? kernels::meshgemm(cfg, arch)
                          : algo == "cannon" ? kernels::cannon_gemm(cfg, arch)
                          : algo == "summa"  ? kernels::summa_gemm(cfg, arch)
                                             : kernels::dist_gemm_t(cfg, arch);
  runtime::Device dev(arch, w, h, sim.data_mode());
  sim.start_trace(dev.wafer());
  dev.load(*g.layout);

  std::mt19937 rng(opt.seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const auto random_half = [&](std::size_t count) {
    std::vector<float> v(count);
    for (float& x : v) x = csl::f16(dist(rng)).to_float();
    return v;
  };
  std::vector<float> a, b;
  if (!sim.timing_only) {
    a = random_half(std::size_t(m) * k);
    b = random_half(std::size_t(k) * n);  // dist-t: B is n x k
    if (transposed) kernels::write_gemm_t_inputs(*g.layout, g, a, b);
    else kernels::write_gemm_inputs(*g.layout, g, a, b);
  }
  sim.show_progress(dev.wafer(), "bench gemm");
  dev.launch("gemm");
  const runtime::RunReport r = dev.run();
  dev.wafer().finish_trace();
  const bool finished = kernels::gemm_finished(g);
  bench::KernelBenchCheck check{.finished = finished, .ok = finished};
  if (opt.verify) {
    const auto c = kernels::read_gemm_output(*g.layout, g);
    if (transposed) {  // compare with A * (B^T)
      std::vector<float> bt(b.size());
      for (std::uint32_t j = 0; j < n; ++j)
        for (std::uint32_t p = 0; p < k; ++p) bt[std::size_t(p) * n + j] = b[std::size_t(j) * k + p];
      b = bt;
    }
    const auto exact = kernels::matmul(a, b, m, k, n);
    for (std::uint32_t i = 0; i < m && check.ok; ++i)
      for (std::uint32_t j = 0; j < n; ++j) {
        double bound = 0;
        for (std::uint32_t p = 0; p < k; ++p)
          bound += std::abs(double(a[std::size_t(i) * k + p]) * b[std::size_t(p) * n + j]);
        // dist-t: P - 1 more additions (the reduction) per output.
        const double tol = kernels::gemm_tolerance(cfg.fp32_accumulate, transposed ? k + std::uint32_t(w) : k, bound);
        const std::size_t e = std::size_t(i) * n + j;
        const double err = std::abs(c[e] - exact[e]);
        check.max_err = std::max(check.max_err, err);
        check.tol_max = std::max(check.tol_max, tol);
        if (err > tol) {
          std::cerr << "bench gemm: mismatch at C[" << i << "][" << j << "]: got " << c[e] << ", expected "
                    << exact[e] << " (tolerance " << tol << ")\n";
          check.ok = false;
          break;
        }
      }
  }
  const hw::ComputeEngine& ce = g.layout->engine(0, 0);
  const hw::Cycle model = algo == "summa"  ? kernels::summa_model_cycles(g, arch, ce)
                          : transposed     ? kernels::dist_gemm_t_model_cycles(g, arch, ce)
                                           : kernels::shift_gemm_model_cycles(g, arch, ce);
  // Useful FMACs over what the mesh could do at full SIMD width; the critical path waits on the fabric in the cycles
  // the busiest PE's main thread is idle.
  const int simd = hw::simd_width(cfg.fp32_accumulate ? hw::OpCode::Fmachs : hw::OpCode::Fmach, arch.pe.simd);
  const double efficiency = r.cycles == 0 ? 0.0
                                          : double(m) * k * n / (double(w) * h * simd * double(r.cycles));
  std::uint64_t busiest = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) busiest = std::max(busiest, g.layout->engine(x, y).stats().main_busy_cycles);
  const double comm_share = r.cycles == 0 ? 0.0 : 1.0 - std::min(1.0, double(busiest) / double(r.cycles));
  const double host = clock.seconds();

  std::ostream& report = text_stream(sim.json);
  report << "bench gemm: " << g.name << " C[" << m << "x" << n << "] = A[" << m << "x" << k << "] * "
         << (transposed ? "B[" + std::to_string(n) + "x" + std::to_string(k) + "]^T"
                        : "B[" + std::to_string(k) + "x" + std::to_string(n) + "]")
         << " on " << w << "x" << h << ", " << opt.accum << " accumulation on " << arch.name << "\n"
         << "  cycles              " << r.cycles << (r.completed ? "" : " (stopped)") << "\n"
         << "  model cycles        " << model << " (estimate)\n"
         << "  microseconds        " << r.microseconds << " at " << arch.clock_hz / 1e9 << " GHz\n"
         << "  compute efficiency  " << efficiency << " (SIMD width " << simd << ")\n"
         << "  comm share          " << comm_share << "\n"
         << "  colours per PE      " << g.colors_per_pe_max << " (max; " << g.colors_used.size() << " distinct)\n"
         << "  SRAM bytes per PE   " << g.sram_bytes_per_pe + arch.pe.code_reserve_bytes << " (of " << arch.pe.sram_bytes
         << ", including " << arch.pe.code_reserve_bytes << " reserved for code)\n";
  bench::report_tail(report, opt, check, host);
  if (!sim.json.empty()) {
    nlohmann::json j = sim.result_envelope(cli::command_line(argc, argv), arch, host, r.cycles);
    j["algo"] = algo;
    j["mesh"] = {w, h};
    j["P"] = w;
    j["m"] = m;
    j["k"] = k;
    j["n"] = n;
    bench::json_tail(j, opt, check);
    j["compute_efficiency"] = efficiency;
    j["comm_share"] = comm_share;
    j["model_cycles"] = model;
    j["colors_per_pe_max"] = g.colors_per_pe_max;
    j["colors_used"] = g.colors_used;
    j["sram_bytes_per_pe_max"] = g.sram_bytes_per_pe + arch.pe.code_reserve_bytes;  // as generate: symbols + code reserve
    runtime::write_json(sim.json, j);
  }
  return check.ok ? 0 : 1;
}

const cli::CommandRegistration reg("bench gemm",
                                   "MeshGEMM / Cannon / SUMMA C = A*B, dist-GEMM-T C = A*B^T on a PxP mesh: cycles, "
                                   "efficiency, model",
                                   bench_gemm);

}  // namespace
}  // namespace wafersim
