// The oracle for the prefill tests: one LLaMA layer over a whole prompt, composed from the CPU reference's fp32
// building blocks (models/cpu_ops), and the fp32 view of a weight tensor.
#pragma once
#include <cstdint>
#include <vector>

#include "models/cpu_ops.hpp"
#include "models/llama_weights.hpp"

namespace wafersim::test {

inline std::vector<float> f32(const models::FloatTensor& t) {
  if (t.empty()) return {};
  const auto c = t.to_f32();
  return {c.data(), c.data() + c.size()};
}

struct CpuLayer {
  std::vector<float> out, k, v;  // [L x E] output rows; [L x kv_dim] K (after RoPE) and V
};

// Layer `lw` of a model `c` over the L rows of x ([L x E]), positions 0..L-1, causal attention.
inline CpuLayer cpu_prefill_layer(const models::LlamaConfig& c, const models::LayerWeights& lw,
                                  const std::vector<float>& x, int64_t L) {
  namespace cpu = models::cpu;
  const int64_t E = c.hidden_size, hd = c.head_dim, qd = c.q_dim(), kvd = c.kv_dim(), F = c.intermediate_size;
  const auto inv = cpu::rope_inv_freq(c);
  std::vector<float> xn(x.size()), q(L * qd);
  CpuLayer r{std::vector<float>(x.size()), std::vector<float>(L * kvd), std::vector<float>(L * kvd)};
  for (int64_t t = 0; t < L; ++t) cpu::rms_norm(&x[t * E], f32(lw.input_norm).data(), E, c.rms_norm_eps, &xn[t * E]);
  const auto bq = f32(lw.bq), bk = f32(lw.bk), bv = f32(lw.bv);
  cpu::matmul(xn.data(), L, E, cpu::view_of(lw.wq), qd, q.data(), bq.empty() ? nullptr : bq.data());
  cpu::matmul(xn.data(), L, E, cpu::view_of(lw.wk), kvd, r.k.data(), bk.empty() ? nullptr : bk.data());
  cpu::matmul(xn.data(), L, E, cpu::view_of(lw.wv), kvd, r.v.data(), bv.empty() ? nullptr : bv.data());
  std::vector<float> attn(L * qd), scratch(c.num_attention_heads * L);
  for (int64_t t = 0; t < L; ++t) {
    cpu::apply_rope(&q[t * qd], c.num_attention_heads, hd, t, inv);
    cpu::apply_rope(&r.k[t * kvd], c.num_key_value_heads, hd, t, inv);
  }
  for (int64_t t = 0; t < L; ++t)
    cpu::attention(&q[t * qd], r.k.data(), r.v.data(), t, c.num_attention_heads, c.num_key_value_heads, hd,
                   &attn[t * qd], scratch.data());
  std::vector<float> h(x.size()), hn(x.size()), gate(L * F), up(L * F), act(L * F);
  cpu::matmul(attn.data(), L, qd, cpu::view_of(lw.wo), E, h.data());
  for (std::size_t i = 0; i < h.size(); ++i) h[i] += x[i];
  for (int64_t t = 0; t < L; ++t) cpu::rms_norm(&h[t * E], f32(lw.post_norm).data(), E, c.rms_norm_eps, &hn[t * E]);
  cpu::matmul(hn.data(), L, E, cpu::view_of(lw.w_gate), F, gate.data());
  cpu::matmul(hn.data(), L, E, cpu::view_of(lw.w_up), F, up.data());
  cpu::swiglu(gate.data(), up.data(), L * F, act.data());
  cpu::matmul(act.data(), L, F, cpu::view_of(lw.w_down), E, r.out.data());
  for (std::size_t i = 0; i < h.size(); ++i) r.out[i] += h[i];
  return r;
}

}  // namespace wafersim::test
