#include "firmware/kernels/llama_prefill.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "common/error.hpp"
#include "fabric/fabric.hpp"
#include "firmware/kernels/dist_gemm_t.hpp"
#include "firmware/kernels/meshgemm.hpp"

namespace wafersim::kernels {
namespace {

using Matrix = std::vector<float>;

// The sequence of device runs of one layer: each GEMM on a fresh P x P fabric, its cycles added to its kernel.
class PrefillRuns {
 public:
  PrefillRuns(const PrefillShape& s, const hw::ArchParams& arch, PrefillResult& r) : s_(s), arch_(arch), r_(r) {}

  // C [m x n] = A [m x k] * B [k x n] (MeshGEMM).
  Matrix gemm(const char* kernel, const Matrix& a, const Matrix& b, std::uint32_t m, std::uint32_t k,
              std::uint32_t n) {
    return run(kernel, {.P = s_.P, .m = m, .k = k, .n = n, .fp32_accumulate = s_.fp32_accumulate}, a, b, false);
  }
  // C [m x n] = A [m x k] * B^T, B [n x k] as stored (dist-GEMM-T).
  Matrix gemm_t(const char* kernel, const Matrix& a, const Matrix& b, std::uint32_t m, std::uint32_t k,
                std::uint32_t n) {
    return run(kernel, {.P = s_.P, .m = m, .k = k, .n = n, .fp32_accumulate = s_.fp32_accumulate}, a, b, true);
  }

 private:
  Matrix run(const char* kernel, const GemmConfig& cfg, const Matrix& a, const Matrix& b, bool transposed) {
    fabric::Fabric f(arch_, s_.P, s_.P);
    GemmLayout g = transposed ? dist_gemm_t(cfg, arch_) : meshgemm(cfg, arch_);
    g.layout->load(f);
    if (transposed) write_gemm_t_inputs(*g.layout, g, a, b);
    else write_gemm_inputs(*g.layout, g, a, b);
    g.layout->call("gemm");
    const auto rr = f.run();
    if (!rr.completed || !gemm_finished(g))
      throw std::runtime_error(std::string("llama_prefill: the ") + kernel + " run (" + g.name + ") did not complete");
    auto it = std::find_if(r_.kernels.begin(), r_.kernels.end(), [&](const auto& kc) { return kc.kernel == kernel; });
    if (it == r_.kernels.end()) it = r_.kernels.insert(r_.kernels.end(), {kernel, 0, 0});
    ++it->runs;
    it->cycles += rr.cycles;
    r_.cycles += rr.cycles;
    r_.sram_bytes_per_pe_max = std::max(r_.sram_bytes_per_pe_max, g.sram_bytes_per_pe);
    return read_gemm_output(*g.layout, g);
  }

  const PrefillShape& s_;
  const hw::ArchParams& arch_;
  PrefillResult& r_;
};

// The weights [out_i, in] stacked along out and transposed: MeshGEMM's B [in x sum(out_i)].
Matrix stack_transposed(const std::vector<const Matrix*>& parts, std::uint32_t in) {
  std::uint32_t out = 0;
  for (const Matrix* p : parts) out += std::uint32_t(p->size() / in);
  Matrix b(std::size_t(in) * out);
  std::uint32_t col = 0;
  for (const Matrix* p : parts) {
    const std::uint32_t n = std::uint32_t(p->size() / in);
    for (std::uint32_t j = 0; j < n; ++j)
      for (std::uint32_t i = 0; i < in; ++i) b[std::size_t(i) * out + col + j] = (*p)[std::size_t(j) * in + i];
    col += n;
  }
  return b;
}

// Columns [c0, c0 + n) of a [rows x cols] matrix.
Matrix columns(const Matrix& m, std::uint32_t rows, std::uint32_t cols, std::uint32_t c0, std::uint32_t n) {
  Matrix out(std::size_t(rows) * n);
  for (std::uint32_t i = 0; i < rows; ++i)
    std::copy_n(m.begin() + std::ptrdiff_t(std::size_t(i) * cols + c0), n, out.begin() + std::ptrdiff_t(std::size_t(i) * n));
  return out;
}

// Host step: y = x / sqrt(mean(x^2) + eps) * w per row (the mean in double, as the CPU reference).
Matrix rms_norm_rows(const Matrix& x, const std::vector<float>& w, std::uint32_t rows, std::uint32_t e, double eps) {
  Matrix y(x.size());
  for (std::uint32_t t = 0; t < rows; ++t) {
    const float* r = x.data() + std::size_t(t) * e;
    double ss = 0;
    for (std::uint32_t i = 0; i < e; ++i) ss += double(r[i]) * r[i];
    const float inv = float(1.0 / std::sqrt(ss / e + eps));
    for (std::uint32_t i = 0; i < e; ++i) y[std::size_t(t) * e + i] = r[i] * inv * w[i];
  }
  return y;
}

void check_shape(const PrefillShape& s, const PrefillWeights& w, std::size_t x_size) {
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw ConfigError("llama_prefill: " + what);
  };
  need(s.P >= 1, "P must be >= 1");
  need(s.seq >= 1 && s.hidden >= 1 && s.ffn >= 1, "seq, hidden and ffn must be >= 1");
  need(s.head_dim >= 2 && s.head_dim % 2 == 0, "head_dim must be even and >= 2 (RoPE pairs)");
  need(s.kv_heads >= 1 && s.q_heads % s.kv_heads == 0, "q_heads must be a multiple of kv_heads");
  need(s.inv_freq.size() == s.head_dim / 2, "inv_freq must hold head_dim / 2 values");
  need(x_size == std::size_t(s.seq) * s.hidden, "x must hold seq * hidden values");
  const std::size_t e = s.hidden, q = std::size_t(s.q_heads) * s.head_dim, kv = std::size_t(s.kv_heads) * s.head_dim;
  need(w.input_norm.size() == e && w.post_norm.size() == e, "input_norm/post_norm must hold hidden values");
  need(w.wq.size() == q * e && w.wk.size() == kv * e && w.wv.size() == kv * e, "wq/wk/wv shape");
  need(w.wo.size() == e * q, "wo must be [hidden x q_heads*head_dim]");
  need(w.w_gate.size() == std::size_t(s.ffn) * e && w.w_up.size() == std::size_t(s.ffn) * e &&
           w.w_down.size() == e * s.ffn,
       "w_gate/w_up/w_down shape");
  const bool bias = !w.bq.empty() || !w.bk.empty() || !w.bv.empty();
  need(!bias || (w.bq.size() == q && w.bk.size() == kv && w.bv.size() == kv), "bq/bk/bv shape");
}

}  // namespace

PrefillResult llama_prefill_layer(const PrefillShape& s, const PrefillWeights& w, const std::vector<float>& x,
                                  const hw::ArchParams& arch) {
  check_shape(s, w, x.size());
  PrefillResult r;
  PrefillRuns dev(s, arch, r);
  const std::uint32_t L = s.seq, E = s.hidden, hd = s.head_dim, half = hd / 2;
  const std::uint32_t qd = s.q_heads * hd, kvd = s.kv_heads * hd, qkv = qd + 2 * kvd, group = s.q_heads / s.kv_heads;

  // Attention block.
  const Matrix xn = rms_norm_rows(x, w.input_norm, L, E, s.rms_eps);
  Matrix y = dev.gemm("qkv", xn, stack_transposed({&w.wq, &w.wk, &w.wv}, E), L, E, qkv);
  if (!w.bq.empty())
    for (std::uint32_t t = 0; t < L; ++t)
      for (std::uint32_t j = 0; j < qkv; ++j)
        y[std::size_t(t) * qkv + j] += j < qd ? w.bq[j] : j < qd + kvd ? w.bk[j - qd] : w.bv[j - qd - kvd];
  // RoPE (HF rotate_half: element i pairs with i + half) on the q and k heads of every token at its position.
  for (std::uint32_t t = 0; t < L; ++t)
    for (std::uint32_t i = 0; i < half; ++i) {
      const double angle = double(t) * s.inv_freq[i];
      const float c = float(std::cos(angle)), sn = float(std::sin(angle));
      for (std::uint32_t h = 0; h < s.q_heads + s.kv_heads; ++h) {
        float* v = y.data() + std::size_t(t) * qkv + std::size_t(h) * hd;
        const float a = v[i], b = v[i + half];
        v[i] = a * c - b * sn;
        v[i + half] = b * c + a * sn;
      }
    }
  r.k = columns(y, L, qkv, qd, kvd);
  r.v = columns(y, L, qkv, qd + kvd, kvd);
  Matrix attn(std::size_t(L) * qd);
  const float scale = float(1.0 / std::sqrt(double(hd)));
  for (std::uint32_t h = 0; h < s.q_heads; ++h) {
    const std::uint32_t g = h / group;
    Matrix sc = dev.gemm_t("scores", columns(y, L, qkv, h * hd, hd), columns(r.k, L, kvd, g * hd, hd), L, hd, L);
    for (std::uint32_t i = 0; i < L; ++i) {  // causal mask: row i sees positions 0..i; softmax with a real exp
      float* row = sc.data() + std::size_t(i) * L;
      float mx = -INFINITY;
      for (std::uint32_t j = 0; j <= i; ++j) mx = std::max(mx, row[j] * scale);
      float sum = 0;
      for (std::uint32_t j = 0; j < L; ++j) {
        row[j] = j <= i ? std::exp(row[j] * scale - mx) : 0.0f;
        sum += row[j];
      }
      for (std::uint32_t j = 0; j <= i; ++j) row[j] /= sum;
    }
    const Matrix o = dev.gemm("pv", sc, columns(r.v, L, kvd, g * hd, hd), L, L, hd);
    for (std::uint32_t t = 0; t < L; ++t)
      std::copy_n(o.begin() + std::ptrdiff_t(std::size_t(t) * hd), hd,
                  attn.begin() + std::ptrdiff_t(std::size_t(t) * qd + std::size_t(h) * hd));
  }
  Matrix h1 = dev.gemm("wo", attn, stack_transposed({&w.wo}, qd), L, qd, E);
  for (std::size_t i = 0; i < h1.size(); ++i) h1[i] += x[i];

  // FFN block.
  const Matrix hn = rms_norm_rows(h1, w.post_norm, L, E, s.rms_eps);
  const std::uint32_t F = s.ffn;
  const Matrix gu = dev.gemm("up_gate", hn, stack_transposed({&w.w_gate, &w.w_up}, E), L, E, 2 * F);
  Matrix act(std::size_t(L) * F);
  for (std::uint32_t t = 0; t < L; ++t)
    for (std::uint32_t j = 0; j < F; ++j) {
      const float gv = gu[std::size_t(t) * 2 * F + j], uv = gu[std::size_t(t) * 2 * F + F + j];
      act[std::size_t(t) * F + j] = gv / (1.0f + std::exp(-gv)) * uv;
    }
  r.out = dev.gemm("down", act, stack_transposed({&w.w_down}, F), L, F, E);
  for (std::size_t i = 0; i < r.out.size(); ++i) r.out[i] += h1[i];
  return r;
}

}  // namespace wafersim::kernels
