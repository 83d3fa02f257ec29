#include "runtime/prefill_timing.hpp"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "firmware/kernels/tiling.hpp"
#include "models/cpu_ops.hpp"
#include "runtime/version.hpp"

namespace wafersim::runtime {
namespace {

// Bump when llama_prefill's runs or the GEMM kernels' timing change without a parameter change.
constexpr int kPrefillTimingVersion = 2;

// The config of the first `placed` layers (0: all).
models::LlamaConfig placed_config(models::LlamaConfig c, int placed) {
  if (placed < 0 || placed > c.num_hidden_layers)
    throw ConfigError("prefill timing: placed layers " + std::to_string(placed) + " outside 0.." +
                      std::to_string(c.num_hidden_layers) + " (the model's num_hidden_layers; 0: all)");
  if (placed > 0) c.num_hidden_layers = placed;
  return c;
}

}  // namespace

PrefillTimer::PrefillTimer(const models::LlamaConfig& config, const std::string& model_name,
                           const hw::ArchParams& arch, int P, std::uint32_t prompt_len, bool fp32_accumulate,
                           std::filesystem::path cache_dir, int placed_layers)
    : config_(config), arch_(arch),
      shape_(prefill_shape(config, P, prompt_len, fp32_accumulate)),
      plan_(plan_prefill(placed_config(config, placed_layers), model_name, P, P, prompt_len, arch)),
      cache_(std::move(cache_dir), "prefill") {}

std::uint64_t PrefillTimer::unit_cycles(const kernels::PrefillRun& run, int steps, int align_rounds, int side,
                                        int rows) {
  kernels::PrefillShape shape = shape_;
  if (side) shape.P = side;
  const nlohmann::json k = {
      {"kernel", "llama_prefill/" + run.kernel},
      {"version", {kPrefillTimingVersion, wafersim_version()}},
      {"region", {shape.P, rows ? rows : shape.P}},
      {"shape", {run.m, run.k, run.n, shape.fp32_accumulate}},
      {"steps", steps},
      {"align_rounds", align_rounds},
      {"arch", timing_arch_key(arch_)},
  };
  const std::string key = k.dump();
  if (const auto it = memo_.find(key); it != memo_.end()) return it->second;
  std::uint64_t cycles = 0;
  if (const auto c = cache_.get(key)) {
    ++hits_;
    cycles = *c;
  } else {
    cycles = kernels::prefill_run_cycles(run, shape, arch_, steps, align_rounds, rows);
    ++simulations_;
    cache_.put(key, cycles);
  }
  memo_[key] = cycles;
  return cycles;
}

namespace {

// Extrapolation over `total` repeated units (steps or rounds): t(n) = the cycles with the first n run (n <= `limit`,
// what the simulated region has). Windows w, 2w, 3w from w = PrefillTimer::kWindow, doubled until steady: the two
// windows' differences d1, d2 extrapolate to within 1% of each other, relative to the larger of the d2 estimate
// of t(total) and `reference` (the whole run's size, when t covers only a part of it): |d1 - d2| * (total - 3w) / w
// <= 1% of that. Returns the d2 estimate and the window's 3w, or nothing when 3w reaches `total` or passes `limit`
// first.
template <class F>
std::optional<std::pair<std::int64_t, int>> extrapolate(int total, int limit, F t, std::int64_t reference = 0) {
  for (int w = PrefillTimer::kWindow; 3 * w < total && 3 * w <= limit; w *= 2) {
    const std::int64_t t1 = t(w), t2 = t(2 * w), t3 = t(3 * w), d1 = t2 - t1, d2 = t3 - t2;
    const std::int64_t rest = total - 3 * w, estimate = t3 + (rest * d2 + w / 2) / w;
    if (d2 > 0 && std::llabs(d1 - d2) * rest * 100 <= std::max(estimate, reference) * w)
      return std::pair{estimate, 3 * w};
  }
  return std::nullopt;
}

}  // namespace

int PrefillTimer::unit_side(const kernels::PrefillRun& run) const {
  const bool reducible = kernels::prefill_run_aligns(run) || kernels::prefill_run_is_local(run);
  return reducible ? std::min(shape_.P, kReducedSide) : shape_.P;
}

int PrefillTimer::unit_rows(const kernels::PrefillRun& run) const {
  return run.kernel == "scores" && shape_.P > kReducedSide ? kReducedSide : 0;
}

kernels::PrefillRun PrefillTimer::on_side(const kernels::PrefillRun& run, int side) const {
  if (side == shape_.P) return run;
  const auto scaled = [&](std::uint32_t n) { return kernels::Split(n, shape_.P).block * std::uint32_t(side); };
  // The row steps do not use k; the GEMMs' k is split like m and n.
  return {run.kernel, scaled(run.m), kernels::prefill_run_is_gemm(run) ? scaled(run.k) : run.k, scaled(run.n),
          run.count};
}

std::optional<std::uint64_t> PrefillTimer::gemm_cycles(const kernels::PrefillRun& run, int side, int rows) {
  const int P = shape_.P;
  const kernels::PrefillRun unit = on_side(run, side);
  const auto t = [&](int steps, int rounds) { return std::int64_t(unit_cycles(unit, steps, rounds, side, rows)); };
  // MeshGEMM's alignment (up to P/2 rounds), shown steady on the first window of steps (relative to the run: those
  // steps after the most rounds the region has, scaled to P steps): the steps below then run only its first
  // `rounds` rounds, and the rounds left add their steady cycles.
  int rounds = 0;
  std::int64_t rounds_left = 0;
  if (kernels::prefill_run_aligns(run)) {
    const int first = std::min(kWindow, side);
    const std::int64_t run_size = 3 * kWindow < P / 2 ? t(first, std::min(side / 2, P / 2)) * P / first : 0;
    if (const auto e = extrapolate(P / 2, side / 2, [&](int r) { return t(first, r); }, run_size)) {
      rounds = e->second;
      rounds_left = e->first - t(first, rounds);
    } else if (side / 2 < P / 2) {
      return std::nullopt;  // not steady within the region's rounds
    }
  }
  const auto e = extrapolate(P, rows ? rows : side, [&](int s) { return t(s, rounds); });
  if (!e && (side < P || rows)) return std::nullopt;  // not steady within the region's steps
  if (e || rounds) ++extrapolated_;
  return std::uint64_t((e ? e->first : t(0, rounds)) + rounds_left);
}

std::uint64_t PrefillTimer::run_cycles(const kernels::PrefillRun& run) {
  const int side = unit_side(run);
  if (!kernels::prefill_run_is_gemm(run)) return unit_cycles(on_side(run, side), 0, 0, side);
  if (const auto c = gemm_cycles(run, side, unit_rows(run))) return *c;
  return *gemm_cycles(run, shape_.P, 0);  // the whole region: always a result
}

PrefillTiming PrefillTimer::time() {
  PrefillTiming t;
  t.layers = int(config_.num_hidden_layers);
  t.placed_layers = plan_.layers;
  t.stages = int(plan_.stages.size());
  for (const kernels::PrefillRun& run : kernels::prefill_layer_runs(shape_, config_.attention_bias)) {
    const std::uint64_t c = run_cycles(run) * std::uint64_t(run.count);
    auto it = std::find_if(t.layer_kernels.begin(), t.layer_kernels.end(),
                           [&](const kernels::PrefillKernelCycles& kc) { return kc.kernel == run.kernel; });
    if (it == t.layer_kernels.end()) it = t.layer_kernels.insert(t.layer_kernels.end(), {run.kernel, 0, 0});
    it->runs += run.count;
    it->cycles += c;
    t.layer_cycles += c;
  }
  for (const kernels::PrefillRun& run : kernels::prefill_head_runs(shape_, std::uint32_t(config_.vocab_size)))
    t.head_cycles += run_cycles(run);
  for (const Stage& st : plan_.stages) t.handoff_cycles += st.handoff_cycles;
  t.cycles = std::uint64_t(t.layers) * t.layer_cycles + t.handoff_cycles + t.head_cycles;
  t.simulations = simulations_;
  t.cached = hits_;
  t.extrapolated = extrapolated_;
  return t;
}

}  // namespace wafersim::runtime
