#include "models/cpu_ops.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace wafersim::models::cpu {

namespace {

// One clone per instruction set, picked at load time: the build targets baseline x86-64, the reference
// should still use AVX2/AVX-512 where the host has them.
#if defined(__x86_64__) && !defined(__clang__)
#define WAFERSIM_SIMD_CLONES __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define WAFERSIM_SIMD_CLONES
#endif

WAFERSIM_SIMD_CLONES
float dot_kernel(const float* a, const float* b, int64_t n) {
  float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

// y += alpha * x
WAFERSIM_SIMD_CLONES
void axpy_kernel(float alpha, const float* x, int64_t n, float* y) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

// Tokens processed per pass over the weights: each weight row is read once per block of tokens.
constexpr int64_t kTokenBlock = 16;
constexpr int64_t kParallelMacs = 1 << 18;

}  // namespace

float dot(const float* a, const float* b, int64_t n) { return dot_kernel(a, b, n); }

void matmul(const float* x, int64_t tokens, int64_t in, const float* w, int64_t out, float* y, const float* bias) {
  matmul_fused(x, tokens, in, {{w, out, y, bias}});
}

void matmul_fused(const float* x, int64_t tokens, int64_t in, const std::vector<MatmulPart>& parts) {
  int64_t rows = 0;
  for (const auto& p : parts) rows += p.out;
  for (int64_t t0 = 0; t0 < tokens; t0 += kTokenBlock) {
    const int64_t t1 = std::min(tokens, t0 + kTokenBlock);
    // A fork/join costs microseconds when the cores are free and milliseconds when they are shared: only
    // products of a quarter million multiply-adds or more go to both cores.
    const bool parallel = rows * in * (t1 - t0) >= kParallelMacs;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t r = 0; r < rows; ++r) {
      size_t part = 0;
      int64_t j = r;
      while (j >= parts[part].out) j -= parts[part++].out;
      const MatmulPart& p = parts[part];
      const float* wj = p.w + j * in;
      const float b = p.bias ? p.bias[j] : 0.0f;
      for (int64_t t = t0; t < t1; ++t) p.y[t * p.out + j] = dot_kernel(wj, x + t * in, in) + b;
    }
  }
}

void rms_norm(const float* x, const float* weight, int64_t n, double eps, float* y) {
  double sum_sq = 0.0;
  for (int64_t i = 0; i < n; ++i) sum_sq += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(sum_sq / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * scale) * weight[i];
}

std::vector<double> rope_inv_freq(const LlamaConfig& config) {
  const int64_t half = config.head_dim / 2;
  std::vector<double> inv_freq(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i)
    inv_freq[static_cast<size_t>(i)] =
        1.0 / std::pow(config.rope_theta, static_cast<double>(2 * i) / static_cast<double>(config.head_dim));
  if (config.rope_scaling && config.rope_scaling->type == "llama3") {
    // Llama-3.1: wavelengths longer than original_context/low_freq_factor are stretched by `factor`, shorter
    // than original_context/high_freq_factor kept, and the band between interpolated smoothly.
    const auto& s = *config.rope_scaling;
    const double old_context = static_cast<double>(s.original_max_position_embeddings);
    const double low_freq_wavelen = old_context / s.low_freq_factor;
    const double high_freq_wavelen = old_context / s.high_freq_factor;
    for (auto& f : inv_freq) {
      const double wavelen = 2.0 * std::numbers::pi / f;
      if (wavelen < high_freq_wavelen) continue;
      if (wavelen > low_freq_wavelen) {
        f /= s.factor;
        continue;
      }
      const double smooth = (old_context / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      f = (1.0 - smooth) * f / s.factor + smooth * f;
    }
  }
  return inv_freq;
}

void apply_rope(float* x, int64_t heads, int64_t head_dim, int64_t pos, const std::vector<double>& inv_freq) {
  const int64_t half = head_dim / 2;
  std::vector<float> cos_v(static_cast<size_t>(half)), sin_v(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    const double angle = static_cast<double>(pos) * inv_freq[static_cast<size_t>(i)];
    cos_v[static_cast<size_t>(i)] = static_cast<float>(std::cos(angle));
    sin_v[static_cast<size_t>(i)] = static_cast<float>(std::sin(angle));
  }
  for (int64_t h = 0; h < heads; ++h) {
    float* v = x + h * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const float a = v[i], b = v[i + half];
      v[i] = a * cos_v[static_cast<size_t>(i)] - b * sin_v[static_cast<size_t>(i)];
      v[i + half] = b * cos_v[static_cast<size_t>(i)] + a * sin_v[static_cast<size_t>(i)];
    }
  }
}

void attention(const float* q, const float* k_cache, const float* v_cache, int64_t pos, int64_t q_heads,
               int64_t kv_heads, int64_t head_dim, float* out, float* scratch) {
  const int64_t group = q_heads / kv_heads;
  const int64_t row = kv_heads * head_dim;  // stride between positions in the caches
  const int64_t len = pos + 1;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  const bool parallel = q_heads * len * head_dim >= kParallelMacs;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t h = 0; h < q_heads; ++h) {
    const int64_t kvh = h / group;
    const float* qh = q + h * head_dim;
    float* s = scratch + h * len;
    float max_score = -INFINITY;
    for (int64_t t = 0; t < len; ++t) {
      s[t] = dot_kernel(qh, k_cache + t * row + kvh * head_dim, head_dim) * scale;
      max_score = std::max(max_score, s[t]);
    }
    double sum = 0.0;
    for (int64_t t = 0; t < len; ++t) {
      s[t] = std::exp(s[t] - max_score);
      sum += s[t];
    }
    const float inv_sum = static_cast<float>(1.0 / sum);
    float* oh = out + h * head_dim;
    std::fill(oh, oh + head_dim, 0.0f);
    for (int64_t t = 0; t < len; ++t) axpy_kernel(s[t] * inv_sum, v_cache + t * row + kvh * head_dim, head_dim, oh);
  }
}

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

}  // namespace wafersim::models::cpu
