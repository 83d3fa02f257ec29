// What the kernel benches (`bench gemv`, `bench gemm`) share: the options --accum (fp16 | fp32), --seed and --verify
// with their checks, and the end of the result: the report's finished / verified / host time lines and the JSON keys
// accum, seed, finished, verified and max_abs_error (null without --verify).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "runtime/cli/options.hpp"
#include "runtime/sim_options.hpp"

namespace wafersim::bench {

struct KernelBenchOptions {
  std::string accum;
  std::uint32_t seed = 1;
  bool verify = false;

  // Adds --accum (help `accum_help`), --seed (of `inputs`) and --verify (of `output` against a CPU matmul).
  void add_to(boost::program_options::options_description& desc, const std::string& accum_help,
              const std::string& inputs, const std::string& output) {
    namespace po = boost::program_options;
    desc.add_options()
        ("accum", po::value(&accum)->default_value("fp16"), accum_help.c_str())
        ("seed", cli::number(&seed, 0u)->default_value(1), ("random seed of " + inputs).c_str())
        ("verify", po::bool_switch(&verify),
         ("check " + output + " against a CPU matmul; exit 1 on mismatch").c_str());
  }
  // After parsing: UsageError unless --accum is fp16 or fp32, or when --verify comes with --timing-only.
  void check(const runtime::SimOptions& sim) const {
    if (accum != "fp16" && accum != "fp32") throw cli::UsageError("--accum " + accum + ": expected fp16 or fp32");
    if (verify && sim.timing_only) throw cli::UsageError("--verify needs payloads: drop --timing-only");
  }
  bool fp32() const { return accum == "fp32"; }
};

// The outcome of a kernel bench run: every PE finished; with --verify, whether the output matched and the largest
// error and tolerance.
struct KernelBenchCheck {
  bool finished = false, ok = false;
  double max_err = 0, tol_max = 0;
};

// The report's last lines (label column as the benches' other lines).
inline void report_tail(std::ostream& report, const KernelBenchOptions& o, const KernelBenchCheck& c,
                        double host_seconds) {
  report << "  finished            " << (c.finished ? "yes" : "NO") << "\n";
  if (o.verify)
    report << "  verified            " << (c.ok ? "yes" : "NO") << " (max abs error " << c.max_err
           << ", tolerance up to " << c.tol_max << ")\n";
  report << "  host time           " << host_seconds << " s, peak RSS "
         << double(runtime::peak_rss_bytes()) / (1 << 20) << " MiB\n";
}

// The shared JSON keys.
inline void json_tail(nlohmann::json& j, const KernelBenchOptions& o, const KernelBenchCheck& c) {
  j["accum"] = o.accum;
  j["seed"] = o.seed;
  j["finished"] = c.finished;
  j["verified"] = o.verify ? nlohmann::json(c.ok) : nlohmann::json(nullptr);
  j["max_abs_error"] = o.verify ? nlohmann::json(c.max_err) : nlohmann::json(nullptr);
}

}  // namespace wafersim::bench
