#include "models/cpu_ops.hpp"

#include <algorithm>
#include <cmath>
#include <atomic>
#include <memory>
#include <mutex>
#include <numbers>
#include <thread>

#include <omp.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "common/fp16.hpp"
#include "common/worker_pool.hpp"

namespace wafersim::models::cpu {

namespace {

// Dot products: one summation order for every weight dtype (4 x 8 lanes, fused multiply-add, a fixed horizontal
// sum, then the tail), so F16 weights and their F32 widening give bit-identical results.
#if defined(__x86_64__)
#define WAFERSIM_AVX2 __attribute__((target("avx2,fma,f16c")))

template <DType D>
WAFERSIM_AVX2 inline __m256 load8(const void* w, int64_t i) {
  if constexpr (D == DType::F32) {
    return _mm256_loadu_ps(static_cast<const float*>(w) + i);
  } else {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + i));
    if constexpr (D == DType::F16) return _mm256_cvtph_ps(h);
    else return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
}

template <DType D>
WAFERSIM_AVX2 float dot_avx2(const void* w, const float* x, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_fmadd_ps(load8<D>(w, i), _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(load8<D>(w, i + 8), _mm256_loadu_ps(x + i + 8), a1);
    a2 = _mm256_fmadd_ps(load8<D>(w, i + 16), _mm256_loadu_ps(x + i + 16), a2);
    a3 = _mm256_fmadd_ps(load8<D>(w, i + 24), _mm256_loadu_ps(x + i + 24), a3);
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(load8<D>(w, i), _mm256_loadu_ps(x + i), a0);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  float acc = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
  for (; i < n; ++i) {
    float wi;
    if constexpr (D == DType::F32) wi = static_cast<const float*>(w)[i];
    else if constexpr (D == DType::F16) wi = f16_bits_to_f32(static_cast<const uint16_t*>(w)[i]);
    else wi = bf16_bits_to_f32(static_cast<const uint16_t*>(w)[i]);
    acc = std::fma(wi, x[i], acc);
  }
  return acc;
}

template <DType D>
WAFERSIM_AVX2 void widen_avx2(const void* w, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, load8<D>(w, i));
  for (; i < n; ++i)
    out[i] = D == DType::F16 ? f16_bits_to_f32(static_cast<const uint16_t*>(w)[i]) : bf16_bits_to_f32(static_cast<const uint16_t*>(w)[i]);
}

WAFERSIM_AVX2 void axpy_avx2(float alpha, const float* x, int64_t n, float* y) {
  const __m256 a = _mm256_set1_ps(alpha);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(a, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] = std::fma(alpha, x[i], y[i]);
}

bool host_has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}
#else
bool host_has_avx2() { return false; }
#endif

bool g_fast = host_has_avx2();

// Portable kernels: the same 32-lane order, scalar.
template <DType D>
float dot_portable(const void* w, const float* x, int64_t n) {
  auto weight = [w](int64_t i) {
    if constexpr (D == DType::F32) return static_cast<const float*>(w)[i];
    else if constexpr (D == DType::F16) return f16_bits_to_f32(static_cast<const uint16_t*>(w)[i]);
    else return bf16_bits_to_f32(static_cast<const uint16_t*>(w)[i]);
  };
  float lanes[32] = {};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int l = 0; l < 32; ++l) lanes[l] = std::fma(weight(i + l), x[i + l], lanes[l]);
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) lanes[l] = std::fma(weight(i + l), x[i + l], lanes[l]);
  float s[8];
  for (int l = 0; l < 8; ++l) s[l] = (lanes[l] + lanes[l + 8]) + (lanes[l + 16] + lanes[l + 24]);
  float acc = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; i < n; ++i) acc = std::fma(weight(i), x[i], acc);
  return acc;
}

float dot_any(DType dtype, const void* w, const float* x, int64_t n) {
#if defined(__x86_64__)
  if (g_fast) {
    switch (dtype) {
      case DType::F16: return dot_avx2<DType::F16>(w, x, n);
      case DType::BF16: return dot_avx2<DType::BF16>(w, x, n);
      default: return dot_avx2<DType::F32>(w, x, n);
    }
  }
#endif
  switch (dtype) {
    case DType::F16: return dot_portable<DType::F16>(w, x, n);
    case DType::BF16: return dot_portable<DType::BF16>(w, x, n);
    default: return dot_portable<DType::F32>(w, x, n);
  }
}

float dot_kernel(const float* a, const float* b, int64_t n) { return dot_any(DType::F32, a, b, n); }

// 16-bit row -> fp32 (exact).
void widen(DType dtype, const void* w, int64_t n, float* out) {
#if defined(__x86_64__)
  if (g_fast) return dtype == DType::F16 ? widen_avx2<DType::F16>(w, n, out) : widen_avx2<DType::BF16>(w, n, out);
#endif
  convert_to_f32(dtype, static_cast<const uint8_t*>(w), static_cast<size_t>(n), out);
}

void axpy_kernel(float alpha, const float* x, int64_t n, float* y) {
#if defined(__x86_64__)
  if (g_fast) return axpy_avx2(alpha, x, n, y);
#endif
  for (int64_t i = 0; i < n; ++i) y[i] = std::fma(alpha, x[i], y[i]);
}

// Tokens processed per pass over the weights: each weight row is read (and widened) once per block of tokens.
constexpr int64_t kTokenBlock = 16;
// A fork/join costs microseconds when the cores are free and milliseconds when they are shared: only products
// of a quarter million multiply-adds or more go to both cores.
constexpr int64_t kParallelMacs = 1 << 18;

// Worker threads for parallel_run, created on first use (made anew when the worker count changes). Jobs are large and rare, so
// the workers sleep between them instead of spinning; one caller at a time.
std::mutex g_pool_mutex;
std::unique_ptr<WorkerPool> g_pool;

int kernel_threads(bool parallel) { return parallel ? std::max(1, omp_get_max_threads()) : 1; }

}  // namespace

void parallel_run(int workers, const std::function<void(int worker, int workers)>& body) {
  if (workers <= 1 || WorkerPool::in_job()) {
    for (int w = 0; w < std::max(workers, 1); ++w) body(w, std::max(workers, 1));
    return;
  }
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  if (!g_pool || g_pool->workers() != workers - 1) g_pool = std::make_unique<WorkerPool>(workers - 1, /*spin=*/false);
  g_pool->run([&](int index) { body(index, workers); });
}

void use_portable_kernels(bool portable) { g_fast = !portable && host_has_avx2(); }

float dot(const float* a, const float* b, int64_t n) { return dot_kernel(a, b, n); }

void matmul(const float* x, int64_t tokens, int64_t in, WeightView w, int64_t out, float* y, const float* bias) {
  matmul_fused(x, tokens, in, {{w, out, y, bias}});
}

void matmul_fused(const float* x, int64_t tokens, int64_t in, const std::vector<MatmulPart>& parts) {
  int64_t rows = 0;
  for (const auto& p : parts) rows += p.out;
  for (int64_t t0 = 0; t0 < tokens; t0 += kTokenBlock) {
    const int64_t t1 = std::min(tokens, t0 + kTokenBlock);
    const bool parallel = rows * in * (t1 - t0) >= kParallelMacs;
    parallel_run(kernel_threads(parallel), [&](int worker, int workers) {
      std::vector<float> widened;  // a 16-bit row widened once for a block of several tokens
      const int64_t begin = rows * worker / workers, end = rows * (worker + 1) / workers;
      for (int64_t r = begin; r < end; ++r) {
        size_t part = 0;
        int64_t j = r;
        while (j >= parts[part].out) j -= parts[part++].out;
        const MatmulPart& p = parts[part];
        const float b = p.bias ? p.bias[j] : 0.0f;
        const auto* row = static_cast<const uint8_t*>(p.w.data) + static_cast<size_t>(j * in) * dtype_size(p.w.dtype);
        DType dtype = p.w.dtype;
        const void* wj = row;
        if (dtype != DType::F32 && t1 - t0 > 1) {
          widened.resize(static_cast<size_t>(in));
          widen(dtype, row, in, widened.data());
          dtype = DType::F32;
          wj = widened.data();
        }
        for (int64_t t = t0; t < t1; ++t) p.y[t * p.out + j] = dot_any(dtype, wj, x + t * in, in) + b;
      }
    });
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
  parallel_run(kernel_threads(parallel), [&](int worker, int workers) {
    for (int64_t h = worker; h < q_heads; h += workers) {
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
  });
}

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

}  // namespace wafersim::models::cpu
