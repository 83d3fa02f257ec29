#include "models/cpu_reference.hpp"

#include <omp.h>

#include <chrono>
#include <stdexcept>

#include "models/cpu_ops.hpp"

namespace wafersim::models {

CpuReference::CpuReference(std::shared_ptr<const LlamaWeights> weights, int threads)
    : weights_(std::move(weights)),
      max_threads_(threads > 0 ? threads : omp_get_max_threads()),
      adaptive_(threads == 0),
      last_threads_(max_threads_),
      inv_freq_(cpu::rope_inv_freq(weights_->config)),
      k_cache_(static_cast<size_t>(weights_->config.num_hidden_layers)),
      v_cache_(static_cast<size_t>(weights_->config.num_hidden_layers)) {}

std::string CpuReference::describe() const {
  std::string s = "cpu (fp32 reference, " + std::to_string(max_threads_) + " threads";
  if (adaptive_ && max_threads_ > 1 && decode_steps_ > 0) s += ", decoding on " + std::to_string(last_threads_);
  return s + ")";
}

int CpuReference::decode_threads() {
  if (!adaptive_ || max_threads_ <= 1) return max_threads_;
  // Steps 0 and 1 time both; afterwards the faster one runs and the slower is re-timed at steps 64, 128, 256, ...
  // (a probe on a loaded host can cost several normal steps, so probes thin out exponentially).
  const int64_t step = decode_steps_;
  if (step < 2) return step == 0 ? max_threads_ : 1;
  const int faster = seconds_all_ <= seconds_one_ ? max_threads_ : 1;
  if (step >= 64 && (step & (step - 1)) == 0) return faster == 1 ? max_threads_ : 1;
  return faster;
}

void CpuReference::record_decode_time(int threads, double seconds) {
  double& smoothed = threads == 1 ? seconds_one_ : seconds_all_;
  smoothed = smoothed == 0.0 ? seconds : 0.5 * smoothed + 0.5 * seconds;
  last_threads_ = threads;
  ++decode_steps_;
}

std::vector<float> CpuReference::prefill(const std::vector<int32_t>& tokens) {
  if (tokens.empty()) throw std::invalid_argument("prefill needs at least one token");
  length_ = 0;
  for (auto& k : k_cache_) k.clear();
  for (auto& v : v_cache_) v.clear();
  std::vector<float> logits(static_cast<size_t>(vocab_size()));
  const int saved = omp_get_max_threads();
  omp_set_num_threads(max_threads_);
  try {
    forward(tokens.data(), static_cast<int64_t>(tokens.size()), 1, logits.data());
  } catch (...) {
    omp_set_num_threads(saved);
    throw;
  }
  omp_set_num_threads(saved);
  return logits;
}

std::vector<float> CpuReference::decode(int32_t token) {
  if (length_ == 0) throw std::logic_error("decode before prefill: the sequence is empty");
  std::vector<float> logits(static_cast<size_t>(vocab_size()));
  const int saved = omp_get_max_threads();
  const int threads = decode_threads();
  omp_set_num_threads(threads);
  const auto start = std::chrono::steady_clock::now();
  try {
    forward(&token, 1, 1, logits.data());
  } catch (...) {
    omp_set_num_threads(saved);
    throw;
  }
  omp_set_num_threads(saved);
  record_decode_time(threads, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return logits;
}

std::vector<float> CpuReference::extend_all_logits(const std::vector<int32_t>& tokens) {
  const auto n = static_cast<int64_t>(tokens.size());
  std::vector<float> logits(static_cast<size_t>(n * vocab_size()));
  if (n > 0) forward(tokens.data(), n, n, logits.data());
  return logits;
}

void CpuReference::forward(const int32_t* tokens, int64_t count, int64_t logit_rows, float* logits) {
  const LlamaConfig& c = weights_->config;
  const int64_t hidden = c.hidden_size, qd = c.q_dim(), kvd = c.kv_dim(), inter = c.intermediate_size;
  for (int64_t t = 0; t < count; ++t)
    if (tokens[t] < 0 || tokens[t] >= c.vocab_size)
      throw std::invalid_argument("token id " + std::to_string(tokens[t]) + " is outside the vocabulary [0, " +
                                  std::to_string(c.vocab_size) + ")");
  if (length_ + count > c.max_position_embeddings)
    throw std::length_error("sequence of " + std::to_string(length_ + count) +
                            " tokens exceeds max_position_embeddings=" + std::to_string(c.max_position_embeddings));

  const auto n = static_cast<size_t>(count);
  std::vector<float> x(n * hidden), h(n * hidden), q(n * qd), attn(n * qd), o(n * hidden);
  std::vector<float> gate(n * inter), up(n * inter), act(n * inter);
  for (int64_t t = 0; t < count; ++t) {
    weights_->embed.row_to_f32(static_cast<size_t>(tokens[t]), static_cast<size_t>(hidden), x.data() + t * hidden);
  }

  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const LayerWeights& lw = weights_->layers[static_cast<size_t>(l)];
    auto& kc = k_cache_[static_cast<size_t>(l)];
    auto& vc = v_cache_[static_cast<size_t>(l)];
    for (int64_t t = 0; t < count; ++t)
      cpu::rms_norm(x.data() + t * hidden, lw.input_norm.data(), hidden, c.rms_norm_eps, h.data() + t * hidden);

    // Q, and K/V written straight into the cache rows of the new positions.
    kc.resize(static_cast<size_t>((length_ + count) * kvd));
    vc.resize(static_cast<size_t>((length_ + count) * kvd));
    float* k_new = kc.data() + length_ * kvd;
    float* v_new = vc.data() + length_ * kvd;
    auto bias = [](const FloatTensor& b) { return b.empty() ? nullptr : b.data(); };
    cpu::matmul_fused(h.data(), count, hidden,
                      {{cpu::view_of(lw.wq), qd, q.data(), bias(lw.bq)},
                       {cpu::view_of(lw.wk), kvd, k_new, bias(lw.bk)},
                       {cpu::view_of(lw.wv), kvd, v_new, bias(lw.bv)}});
    for (int64_t t = 0; t < count; ++t) {
      cpu::apply_rope(q.data() + t * qd, c.num_attention_heads, c.head_dim, length_ + t, inv_freq_);
      cpu::apply_rope(k_new + t * kvd, c.num_key_value_heads, c.head_dim, length_ + t, inv_freq_);
    }

    // Causal attention: token t sees positions 0..length_+t. Prefill spreads tokens over the cores, decode
    // spreads heads (inside cpu::attention).
    const bool parallel = count > 1 && count * (length_ + count) * qd >= (1 << 18);
    cpu::parallel_run(parallel ? omp_get_max_threads() : 1, [&](int worker, int workers) {
      for (int64_t t = worker; t < count; t += workers) {  // interleaved: later rows attend to more positions
        const int64_t pos = length_ + t;
        std::vector<float> scratch(static_cast<size_t>(c.num_attention_heads * (pos + 1)));
        cpu::attention(q.data() + t * qd, kc.data(), vc.data(), pos, c.num_attention_heads, c.num_key_value_heads,
                       c.head_dim, attn.data() + t * qd, scratch.data());
      }
    });
    cpu::matmul(attn.data(), count, qd, cpu::view_of(lw.wo), hidden, o.data());
    for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];

    for (int64_t t = 0; t < count; ++t)
      cpu::rms_norm(x.data() + t * hidden, lw.post_norm.data(), hidden, c.rms_norm_eps, h.data() + t * hidden);
    cpu::matmul_fused(h.data(), count, hidden, {{cpu::view_of(lw.w_gate), inter, gate.data()}, {cpu::view_of(lw.w_up), inter, up.data()}});
    cpu::swiglu(gate.data(), up.data(), count * inter, act.data());
    cpu::matmul(act.data(), count, inter, cpu::view_of(lw.w_down), hidden, o.data());
    for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];
  }
  length_ += count;

  const int64_t first = count - logit_rows;
  std::vector<float> normed(static_cast<size_t>(logit_rows * hidden));
  for (int64_t r = 0; r < logit_rows; ++r)
    cpu::rms_norm(x.data() + (first + r) * hidden, weights_->final_norm.data(), hidden, c.rms_norm_eps,
                  normed.data() + r * hidden);
  cpu::matmul(normed.data(), logit_rows, hidden, cpu::view_of(weights_->output_weights()), c.vocab_size, logits);
}

}  // namespace wafersim::models
