// Timing-only prefill at paper scale: the simulated cycles of a LLaMA model's prefill of an N-token prompt on
// P x P regions, from its config alone (no weights, no data).
// A layer is llama_prefill_layer's sequence of device runs (firmware/kernels/llama_prefill.hpp), each on the whole
// region, one after another with the activations re-laid between them (free): a layer's cycles are the sum of its
// runs'. Every distinct run (kernel, m, k, n, mesh, accumulation) is simulated once in timing-only mode; identical
// per-head runs (scores, softmax, pv) and repeated ones (rmsnorm, residual) count once per occurrence.
// GEMM extrapolation: a MeshGEMM / dist-GEMM-T on P > 3w steps (w = 4 steps) is simulated with its first w, 2w and
// 3w compute steps only (GemmConfig::steps). Steady state is shown when the two windows take the same cycles
// (within 1%, and then the later is used): T(P) = T(3w) + (P - 3w) / w * (T(3w) - T(2w)). If they differ, the
// window doubles until they agree or 3w reaches P (a full simulation). MeshGEMM's alignment (the slowest row's P/2
// rounds, before the steps) is extrapolated the same way first (GemmConfig::align_rounds, on the first w steps); the
// step windows then run its first 3w' rounds and the rounds left add A(P/2) - A(3w') (additive: the alignment and
// the steps follow each other).
// Model: the planner's prefill stages (runtime/planner.hpp, plan_prefill: regions of the same P x P, layers
// spread over them) run one after another: prefill = layers * layer + the stages' handoffs (the planner's model of
// the [L x E] activation moved between regions) + the last token's final RMSNorm and lm_head on the last stage.
// Every unit simulation is cached on disk (runtime/timing_cache.hpp, prefix "prefill"), keyed by the kernel, its
// version, the shape, the steps and rounds simulated, the mesh and the arch (timing_arch_key).
// Not modelled: what llama_prefill leaves out (one fused program, the activations' re-lays, weight loading); the
// prefill -> decode transfer of weights (the K/V hand-over is added end to end by generate); pipelining the stages
// over several prompts.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
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
  int layers = 0, stages = 1;
  int simulations = 0, cached = 0;                 // unit simulations run / taken from the cache
  int extrapolated = 0;                            // GEMM runs extrapolated from their first steps
};

class PrefillTimer {
 public:
  // `cache_dir` empty: no cache. ConfigError for a non-square mesh or a prompt of 0 tokens, CapacityError when the
  // model does not fit the fabric's regions (runtime/planner.hpp).
  PrefillTimer(const models::LlamaConfig& config, const std::string& model_name, const hw::ArchParams& arch, int P,
               std::uint32_t prompt_len, bool fp32_accumulate, std::filesystem::path cache_dir);
  PrefillTiming time();
  // The cycles of one run in full (cached, simulated, or extrapolated from its first steps).
  std::uint64_t run_cycles(const kernels::PrefillRun& run);
  // The cycles of `run` limited to `steps` compute steps and `align_rounds` alignment rounds (0: all): cached or
  // simulated.
  std::uint64_t unit_cycles(const kernels::PrefillRun& run, int steps, int align_rounds = 0);
  const Plan& plan() const { return plan_; }
  int extrapolated() const { return extrapolated_; }  // run_cycles calls that extrapolated
  static constexpr int kWindow = 4;  // compute steps per extrapolation window

 private:
  models::LlamaConfig config_;
  hw::ArchParams arch_;
  kernels::PrefillShape shape_;
  Plan plan_;
  TimingCache cache_;
  std::map<std::string, std::uint64_t> memo_;  // this process's units, by key
  int simulations_ = 0, hits_ = 0, extrapolated_ = 0;
};

}  // namespace wafersim::runtime
