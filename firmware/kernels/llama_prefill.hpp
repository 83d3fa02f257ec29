// Prefill of one LLaMA layer on a P x P region (WaferLLM section 5.1, with real heads, GQA and a causal mask), as a
// SEQUENCE OF DEVICE RUNS, one per kernel, not one fused program. The paper's placement: the sequence along Y and the
// embedding along X, PE (x, y) holding block (y, x) of an activation [L x N] (Split(L, P) along Y, Split(N, P) along
// X). The GEMMs are the existing kernels (meshgemm.hpp: MeshGEMM; dist_gemm_t.hpp: dist-GEMM-T), the weights their
// B blocks; the row-wise and element-wise steps are a row program (llama_prefill.cpp) whose row reductions are
// pipeline allreduces along X. Per layer (run name: what it computes):
//   rmsnorm    x * rsqrt(mean(x^2) + eps) * w: per-row sum of squares, allreduce along X
//   qkv        xn * [Wq | Wk | Wv]^T, one MeshGEMM on the fused [E x (q + 2 kv)] weight
//   bias       + [bq | bk | bv] (Qwen2 only)
//   rope       q, k rotated at each token's position (HF rotate_half pairs i, i + head_dim/2; cos/sin on the PE)
//   scores     S_h = Q_h * K_g^T per query head h, g = h / (q_heads / kv_heads): dist-GEMM-T (K as stored)
//   softmax    x 1/sqrt(head_dim), causal mask (row i keeps columns <= i), max and sum allreduced along X, real exp
//   pv         O_h = softmax(S_h) * V_g per query head: MeshGEMM
//   wo         O * Wo^T: MeshGEMM;  residual: + x
//   rmsnorm, up_gate (xn * [Wgate | Wup]^T, fused MeshGEMM), swiglu (silu(gate) * up), down (MeshGEMM), residual.
// Between runs the host reads each result back and writes the next run's blocks (untimed memcpy): activations are
// re-laid by the host, not left in SRAM. The host only moves data (splits the fused GEMM outputs into heads or gate /
// up, re-lays rotate_half(q|k) as RoPE's second operand, replicates the bias on every row); every arithmetic step
// runs on the wafer, and the cycles reported are the runs' (each from its launch to its last activity).
// Precision: GEMM operands (weights, activations, Q, K, V, probabilities) are rounded to fp16 as the kernels store
// them and summed in fp32 with fp32_accumulate (fmachs; else fp16); the row program works in fp32.
// Timing-only (runtime/prefill_timing.hpp): the same runs without data (fabric::DataMode::TimingOnly, SRAM
// contents not kept), one at a time: prefill_layer_runs lists a layer's runs, identical per-head runs once with
// their count, and prefill_run_cycles simulates one, a GEMM optionally limited to its first steps
// (GemmConfig::steps) for extrapolation.
// Not modelled: one fused program with activations left in SRAM (the re-lays between runs are free here); the
// transfer of K/V to the decode region (runtime/relayout: kv_handover, a cost model); several layers per region; weight loading time; scalar code beyond the
// per-element charges for exp, silu, reciprocal, cos/sin and rsqrt (llama_prefill.cpp).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "hw/arch_params.hpp"

namespace wafersim::kernels {

struct PrefillShape {
  int P = 1;                        // region side
  std::uint32_t seq = 1;            // prompt tokens L
  std::uint32_t hidden = 1;         // E
  std::uint32_t q_heads = 1, kv_heads = 1, head_dim = 2;
  std::uint32_t ffn = 1;            // intermediate size
  double rms_eps = 1e-6;
  std::vector<double> inv_freq;     // RoPE inverse frequency per pair i < head_dim / 2 (HF rotate_half layout)
  bool fp32_accumulate = true;
};

// One layer's weights in the Hugging Face layout: row-major [out, in] (wq [q_heads*hd, E], wk/wv [kv_heads*hd, E],
// wo [E, q_heads*hd], w_gate/w_up [ffn, E], w_down [E, ffn]); biases empty unless the model has QKV biases.
struct PrefillWeights {
  std::vector<float> input_norm, wq, wk, wv, bq, bk, bv, wo, post_norm, w_gate, w_up, w_down;
};

struct PrefillKernelCycles {
  std::string kernel;     // "qkv", "scores", "pv", "wo", "up_gate", "down"
  int runs = 0;           // device runs (scores and pv: one per query head)
  std::uint64_t cycles = 0;
};

struct PrefillResult {
  std::vector<float> out;      // the layer's output rows [L x E]
  std::vector<float> k, v;     // every prompt token's K (after RoPE) and V: [L x kv_heads*head_dim], what decode caches
  std::vector<PrefillKernelCycles> kernels;
  std::uint64_t cycles = 0;    // sum over the device runs
  std::uint64_t sram_bytes_per_pe_max = 0;  // the largest run's symbols per PE
};

// One device run of the layer without data. Kernels: the GEMMs "qkv", "pv", "wo", "up_gate", "down", "lm_head"
// (MeshGEMM, C [m x n] = A [m x k] * B [k x n]) and "scores" (dist-GEMM-T, B [n x k]); the row steps "rmsnorm",
// "final_rmsnorm", "bias", "residual", "rope", "softmax", "swiglu" on an [m x n] matrix (k unused).
struct PrefillRun {
  std::string kernel;
  std::uint32_t m = 1, k = 1, n = 1;
  int count = 1;  // identical runs per layer (scores, softmax, pv: one per query head; rmsnorm, residual: two)
};
// A layer's distinct runs in order of first use, as llama_prefill_layer runs them ("bias" only if `qkv_bias`).
std::vector<PrefillRun> prefill_layer_runs(const PrefillShape& s, bool qkv_bias);
// After the last layer, for the last prompt token only: "final_rmsnorm" [1 x E] and "lm_head" [1 x E] * [E x vocab]
// (MeshGEMM, the weight 2-D partitioned as the planner places it).
std::vector<PrefillRun> prefill_head_runs(const PrefillShape& s, std::uint32_t vocab);
bool prefill_run_is_gemm(const PrefillRun& run);  // MeshGEMM or dist-GEMM-T: P compute steps
bool prefill_run_aligns(const PrefillRun& run);   // MeshGEMM: up to P/2 alignment rounds before the steps
// The element-wise row steps ("bias", "residual", "rope", "swiglu"): local to each PE, no reduction along X.
bool prefill_run_is_local(const PrefillRun& run);
// Simulates `run` on a fresh P x P fabric in timing-only mode and returns its cycles (launch to last activity).
// `steps` (GEMMs only, 0 = all P): run only the first `steps` compute steps (GemmConfig::steps); `align_rounds`
// (MeshGEMM only, 0 = all): at most that many alignment rounds per row (GemmConfig::align_rounds); `rows`
// (dist-GEMM-T only, 0 = P): a P-wide region of that many rows (GemmConfig::rows). ConfigError on an unknown
// kernel, CapacityError when its blocks do not fit a PE's SRAM.
std::uint64_t prefill_run_cycles(const PrefillRun& run, const PrefillShape& s, const hw::ArchParams& arch,
                                 int steps = 0, int align_rounds = 0, int rows = 0);

// Runs the layer on `x` [L x E] (row-major). Throws ConfigError on a bad shape (naming the field), CapacityError when
// a GEMM's blocks do not fit a PE's SRAM (naming the kernel), std::runtime_error if a run does not complete.
PrefillResult llama_prefill_layer(const PrefillShape& shape, const PrefillWeights& w, const std::vector<float>& x,
                                  const hw::ArchParams& arch);

}  // namespace wafersim::kernels
