// The fp32 CPU reference forward pass of a LLaMA-family model (embedding, RMSNorm, RoPE incl. LLaMA-3 scaling,
// causal GQA attention with a KV cache, SwiGLU MLP, residuals, final norm, tied/untied lm_head, Qwen2 QKV bias):
// the oracle the wafer runs are judged against. F16/BF16 weights are widened exactly; all arithmetic is fp32.
// Not modelled: fp16/bf16 arithmetic, sliding windows, batching.
#pragma once
#include <memory>
#include <vector>

#include "models/llama_weights.hpp"
#include "models/logits_backend.hpp"

namespace wafersim::models {

class CpuReference final : public LogitsBackend {
 public:
  // threads: 0 = decode on 1 or all OpenMP threads, whichever times faster; N > 0 = always N.
  explicit CpuReference(std::shared_ptr<const LlamaWeights> weights, int threads = 0);

  int64_t vocab_size() const override { return weights_->config.vocab_size; }
  std::vector<float> prefill(const std::vector<int32_t>& tokens) override;
  std::vector<float> decode(int32_t token) override;
  int64_t sequence_length() const override { return length_; }
  std::string describe() const override;

  // Logits after every token of `tokens` appended to the current sequence ([tokens.size()][vocab]); for tests
  // and for scoring a whole sequence at once.
  std::vector<float> extend_all_logits(const std::vector<int32_t>& tokens);

 private:
  // Runs `count` tokens at positions length_.. through the model, appends them to the KV cache and writes the
  // logits of the last `logit_rows` of them to `logits` ([logit_rows][vocab]).
  void forward(const int32_t* tokens, int64_t count, int64_t logit_rows, float* logits);

  // Decode steps pick their thread count by timing (results do not depend on it): on a quiet host both cores win,
  // on an oversubscribed one every fork/join waits for a descheduled thread and one core wins.
  int decode_threads();
  void record_decode_time(int threads, double seconds);

  std::shared_ptr<const LlamaWeights> weights_;
  int max_threads_ = 1;
  bool adaptive_ = true;
  int64_t decode_steps_ = 0;
  double seconds_all_ = 0.0, seconds_one_ = 0.0;  // smoothed decode-step times with max_threads_ and with 1
  int last_threads_ = 1;
  std::vector<double> inv_freq_;
  std::vector<std::vector<float>> k_cache_;  // per layer: [position][kv_heads * head_dim], after RoPE
  std::vector<std::vector<float>> v_cache_;
  int64_t length_ = 0;
};

}  // namespace wafersim::models
