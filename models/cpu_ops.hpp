// The fp32 building blocks of the CPU reference forward pass: matmul against HF [out, in] weights, RMSNorm,
// rotary embeddings (HF rotate_half convention, LLaMA-3 frequency scaling), causal GQA attention over a KV cache,
// SwiGLU. Accumulation is fp32 (AVX2 lanes); big products run on a passive worker pool. No fp16 arithmetic here.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "models/llama_config.hpp"
#include "models/safetensors.hpp"

namespace wafersim::models::cpu {

// A row-major [out, in] weight matrix in F32, F16 or BF16 (16-bit values are widened exactly inside the kernels).
struct WeightView {
  DType dtype = DType::F32;
  const void* data = nullptr;
};
inline WeightView view_of(const FloatTensor& t) { return {t.dtype(), t.raw()}; }

// y[t][j] = sum_k x[t][k] * w[j][k] (+ bias[j])   for t < tokens, j < out.
// Each y[t][j] is computed independently, with one fixed summation order for every dtype and thread count.
void matmul(const float* x, int64_t tokens, int64_t in, WeightView w, int64_t out, float* y,
            const float* bias = nullptr);
inline void matmul(const float* x, int64_t tokens, int64_t in, const float* w, int64_t out, float* y,
                   const float* bias = nullptr) {
  matmul(x, tokens, in, WeightView{DType::F32, w}, out, y, bias);
}

// Several matmuls of the same input in one parallel pass (fused QKV, fused gate/up): one fork/join instead of
// one per weight, which matters on a loaded 2-core host.
struct MatmulPart {
  WeightView w;         // [out, in]
  int64_t out;
  float* y;             // [tokens, out]
  const float* bias = nullptr;
};
void matmul_fused(const float* x, int64_t tokens, int64_t in, const std::vector<MatmulPart>& parts);

// Runs body(worker, workers) on `workers` threads (the caller is worker 0) and returns when all are done. The
// pool's threads wait passively (futex), so a loaded host does not pay for spinning; called from inside a body
// it runs serially. workers <= 1 runs inline. The thread count the kernels use is OpenMP's
// omp_get_max_threads() of the calling thread (OMP_NUM_THREADS, omp_set_num_threads).
void parallel_run(int workers, const std::function<void(int worker, int workers)>& body);

// The kernels use AVX2 + FMA + F16C when the host has them; tests switch to the portable ones with this.
void use_portable_kernels(bool portable);

float dot(const float* a, const float* b, int64_t n);

// y = x / sqrt(mean(x^2) + eps) * weight   (HF LlamaRMSNorm; the mean is accumulated in double).
void rms_norm(const float* x, const float* weight, int64_t n, double eps, float* y);

// Inverse frequencies theta^(-2i/head_dim), i < head_dim/2, with rope_scaling "llama3" applied when present.
std::vector<double> rope_inv_freq(const LlamaConfig& config);

// Rotates `heads` consecutive vectors of head_dim (in place) to position `pos` with the HF rotate_half layout:
// element i pairs with i + head_dim/2 and both use inv_freq[i].
void apply_rope(float* x, int64_t heads, int64_t head_dim, int64_t pos, const std::vector<double>& inv_freq);

// Causal GQA attention of `q_heads` query heads at position `pos` over cached keys/values of positions 0..pos.
// q: [q_heads][head_dim]; k_cache, v_cache: [positions][kv_heads][head_dim]; out: [q_heads][head_dim].
// Query head h reads KV head h / (q_heads / kv_heads). Scores are scaled by 1/sqrt(head_dim).
// `scratch` must hold pos + 1 floats per query head.
void attention(const float* q, const float* k_cache, const float* v_cache, int64_t pos, int64_t q_heads,
               int64_t kv_heads, int64_t head_dim, float* out, float* scratch);

// out[i] = silu(gate[i]) * up[i]   with silu(x) = x / (1 + exp(-x)).
void swiglu(const float* gate, const float* up, int64_t n, float* out);

}  // namespace wafersim::models::cpu
