// Timing-only prefill at paper scale: the simulated cycles of a LLaMA model's prefill of an N-token prompt on
// P x P regions, from its config alone (no weights, no data).
// A layer is llama_prefill_layer's sequence of device runs (firmware/kernels/llama_prefill.hpp), each on the whole
// region, one after another with the activations re-laid between them (free): a layer's cycles are the sum of its
// runs'. Every distinct run (kernel, m, k, n, mesh, accumulation) is simulated once in timing-only mode; identical
// per-head runs (scores, softmax, pv) and repeated ones (rmsnorm, residual) count once per occurrence.
// GEMM extrapolation: a MeshGEMM / dist-GEMM-T on P > 3w steps (w = 4 steps) is simulated with its first w, 2w and
// 3w compute steps only (GemmConfig::steps). Steady state is shown when the two windows' extrapolations agree
// within 1%, and then the later is used: T(P) = T(3w) + (P - 3w) / w * (T(3w) - T(2w)). If they differ, the
// window doubles until they agree or 3w reaches P (a full simulation). MeshGEMM's alignment (the slowest row's P/2
// rounds, before the steps) is extrapolated the same way first (GemmConfig::align_rounds, on the first w steps; the
// 1% relative to the run: those steps after the region's most rounds, scaled to P steps); the
// step windows then run its first 3w' rounds and the rounds left add A(P/2) - A(3w') (additive: the alignment and
// the steps follow each other).
// Reduced region: a run whose cycles depend on its per-PE blocks and not on P is simulated on a kReducedSide square
// region with the same blocks (m' = block(m, P) * P', k', n' likewise), and the windows above then extrapolate it to
// P steps and P/2 rounds. That holds for MeshGEMM (every INTERLEAVE ring edge is at most 2 hops for any P: a step
// and an alignment round take the same cycles on any region; sc_tests/runtime/prefill_timing_test.cpp checks the
// reduced extrapolation against a full simulation) and for the element-wise row steps (no communication: their
// cycles are the region's, whatever its side). It does not hold for dist-GEMM-T: each step's partial is reduced
// along the whole X ring (P - 1 edges; measured: a step's cycles grow with P), so its windows run on a P-wide region
// of kReducedSide rows (GemmConfig::rows; B shifts on a ring of those rows, one edge of at most 2 hops as on P rows)
// and extrapolate to P steps. The row steps reduced along X (rmsnorm, softmax: pipeline allreduces over P PEs; the
// causal mask makes softmax's rows unequal) run on the whole P x P region. If the windows are not steady within the
// reduced region, the run falls back to the whole region.
// Model: the planner's prefill stages (runtime/planner.hpp, plan_prefill: regions of the same P x P, layers
// spread over them) run one after another: prefill = layers * layer + the stages' handoffs (the planner's model of
// the [L x E] activation moved between regions) + the last token's final RMSNorm and lm_head on the last stage.
// Subsets (`placed_layers` N > 0, the paper's way with the models too large for one wafer: subsets of layers, scaled
// proportionally): the planner places only the first N layers (its stages and handoffs are the subset's) and the
// prefill counts all of the model's layers: layers * layer + the subset's handoffs + the head.
// Every unit simulation is cached on disk (runtime/timing_cache.hpp, prefix "prefill"), keyed by the kernel, its
// version, the region simulated (width and rows), the shape on it, the steps and rounds simulated and the arch
// (timing_arch_key).
// Not modelled: what llama_prefill leaves out (one fused program, the activations' re-lays, weight loading);
// pipelining the stages over several prompts. The prefill -> decode transition (the K/V hand-over and the weights'
// re-lay, runtime/relayout.hpp) is added end to end by generate, not here.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "firmware/kernels/llama_prefill.hpp"
#include "hw/arch_params.hpp"
#include "models/llama_config.hpp"
#include "runtime/planner.hpp"
#include "runtime/timing_cache.hpp"

namespace wafersim::runtime {

struct PrefillTiming {
  std::uint64_t cycles = 0;                        // the whole prefill (prefill_cycles)
  std::uint64_t layer_cycles = 0;                  // one layer
  std::vector<kernels::PrefillKernelCycles> layer_kernels;  // one layer's cycles by kernel (runs: per layer)
  std::uint64_t head_cycles = 0;                   // final RMSNorm + lm_head of the last token
  std::uint64_t handoff_cycles = 0;                // between stages, in total
  int layers = 0, stages = 1;                      // the model's layers; the stages of the placed layers
  int placed_layers = 0;                           // layers the planner placed (layers unless a subset)
  int simulations = 0, cached = 0;                 // unit simulations run / taken from the cache
  int extrapolated = 0;                            // GEMM runs extrapolated from their first steps
};

class PrefillTimer {
 public:
  // `cache_dir` empty: no cache. `placed_layers` > 0: place only the first that many layers (a subset, above).
  // ConfigError for a non-square mesh, a prompt of 0 tokens or placed_layers outside 0..layers, CapacityError when
  // the model (or the subset) does not fit the fabric's regions (runtime/planner.hpp).
  PrefillTimer(const models::LlamaConfig& config, const std::string& model_name, const hw::ArchParams& arch, int P,
               std::uint32_t prompt_len, bool fp32_accumulate, std::filesystem::path cache_dir,
               int placed_layers = 0);
  PrefillTiming time();
  // The cycles of one run in full (cached, simulated, or extrapolated from its first steps).
  std::uint64_t run_cycles(const kernels::PrefillRun& run);
  // The cycles of `run` on a `side` x `side` region (0: P; `run`'s shape is the one on that region), or for
  // dist-GEMM-T on a P-wide region of `rows` rows (0: P), limited to `steps` compute steps and `align_rounds`
  // alignment rounds (0: all): cached or simulated.
  std::uint64_t unit_cycles(const kernels::PrefillRun& run, int steps, int align_rounds = 0, int side = 0,
                            int rows = 0);
  // The side `run`'s units are simulated on: min(P, kReducedSide) for MeshGEMM and the element-wise row steps, else
  // P; and `run` scaled to that side with the same per-PE blocks.
  int unit_side(const kernels::PrefillRun& run) const;
  kernels::PrefillRun on_side(const kernels::PrefillRun& run, int side) const;
  // dist-GEMM-T's rows: kReducedSide when P is larger, else 0 (the whole region).
  int unit_rows(const kernels::PrefillRun& run) const;
  const Plan& plan() const { return plan_; }
  int extrapolated() const { return extrapolated_; }  // run_cycles calls that extrapolated
  static constexpr int kWindow = 4;  // compute steps per extrapolation window
  // The reduced region's side: room for the windows 4, 8, 12 of alignment rounds (side / 2) and up to 24 steps.
  static constexpr int kReducedSide = 24;

 private:
  models::LlamaConfig config_;
  hw::ArchParams arch_;
  kernels::PrefillShape shape_;
  Plan plan_;
  TimingCache cache_;
  // A GEMM's cycles from units on a `side` region, or nothing if not steady within it (side < P).
  std::optional<std::uint64_t> gemm_cycles(const kernels::PrefillRun& run, int side, int rows);
  std::map<std::string, std::uint64_t> memo_;  // this process's units, by key
  int simulations_ = 0, hits_ = 0, extrapolated_ = 0;
};

}  // namespace wafersim::runtime
