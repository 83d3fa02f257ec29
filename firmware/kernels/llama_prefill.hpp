// Prefill of one LLaMA layer on a P x P region (WaferLLM section 5.1, with real heads, GQA and a causal mask), as a
// SEQUENCE OF DEVICE RUNS, one per GEMM, not one fused program: every GEMM is the existing MeshGEMM or dist-GEMM-T
// kernel (meshgemm.hpp, dist_gemm_t.hpp) with the paper's placement, the sequence along Y and the embedding along X:
// PE (x, y) holds block (y, x) of the activation [L x E] (rows of the prompt split with Split(L, P) along Y, the
// embedding with Split(E, P) along X), the weights [E x N] as MeshGEMM's B blocks. Per layer:
//   RMSNorm                                   host, fp32 (between runs)
//   Q|K|V = xn * [Wq|Wk|Wv]^T                 MeshGEMM, one run for the fused [E x (q + 2 kv)] weight (+ bias: host)
//   RoPE on Q and K                           host, fp32
//   S_h = Q_h * K_g^T per query head h        dist-GEMM-T (K_g as stored, no transpose), g = h / group
//   causal mask, x 1/sqrt(head_dim), softmax  host, fp32, real exp
//   O_h = softmax(S_h) * V_g                  MeshGEMM per query head
//   x += O * Wo^T                             MeshGEMM
//   RMSNorm                                   host
//   G|U = xn * [Wgate|Wup]^T                  MeshGEMM, fused
//   silu(G) * U                               host, fp32, real exp
//   x += (silu(G) * U) * Wdown^T              MeshGEMM
// Between runs the host reads each product back and writes the next GEMM's blocks (untimed memcpy): the activations
// are re-laid by the host, not left in SRAM, and the element-wise and row-wise steps (RMSNorm, RoPE, mask, softmax,
// SiLU, residual, bias) run on the host, so their cycles are not counted. The cycles reported are the GEMM runs' only.
// Precision: the GEMM operands (weights and activations) are rounded to fp16 as the kernels store them; with
// fp32_accumulate the products are summed in fp32 (fmachs). Everything on the host is fp32.
// Not modelled: the on-wafer element-wise steps and their allreduces along X; keeping activations in SRAM between
// GEMMs; several layers per region; weight loading time.
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

// Runs the layer on `x` [L x E] (row-major). Throws ConfigError on a bad shape (naming the field), CapacityError when
// a GEMM's blocks do not fit a PE's SRAM (naming the kernel), std::runtime_error if a run does not complete.
PrefillResult llama_prefill_layer(const PrefillShape& shape, const PrefillWeights& w, const std::vector<float>& x,
                                  const hw::ArchParams& arch);

}  // namespace wafersim::kernels
