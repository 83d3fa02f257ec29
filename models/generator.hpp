// Autoregressive generation: prefill the prompt on any LogitsBackend (CPU reference or wafer), then sample and
// decode token by token until max_new_tokens or an end-of-sequence token, streaming text as it becomes complete
// UTF-8. Not covered: batching, stop strings, repetition penalties.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "models/logits_backend.hpp"
#include "models/sampler.hpp"

namespace wafersim::models {

struct GenerationOptions {
  int64_t max_new_tokens = 32;
  SamplingParams sampling;
  std::vector<int32_t> stop_tokens;  // eos_token_id(s): generation ends after emitting one (it is kept in tokens)
};

struct GenerationResult {
  std::vector<int32_t> prompt_tokens;
  std::vector<int32_t> tokens;       // generated ids, including a final stop token if one was produced
  std::string text;                  // detokenised `tokens` (empty without a detokeniser)
  bool stopped_at_eos = false;
  double prefill_seconds = 0.0;      // host time of backend.prefill
  double decode_seconds = 0.0;       // host time of all backend.decode calls
  int64_t decode_steps = 0;          // backend.decode calls (= tokens.size() - 1 unless stopped early)
  double decode_tokens_per_second() const { return decode_seconds > 0 ? decode_steps / decode_seconds : 0.0; }
};

using Detokenizer = std::function<std::string(const std::vector<int32_t>& ids)>;
// Called once per generated token with the text that became printable with it (may be empty).
using TokenCallback = std::function<void(int32_t token, std::string_view new_text)>;

class Generator {
 public:
  explicit Generator(LogitsBackend& backend, Detokenizer detokenize = {});
  GenerationResult run(const std::vector<int32_t>& prompt, const GenerationOptions& options,
                       const TokenCallback& on_token = {});

 private:
  LogitsBackend& backend_;
  Detokenizer detokenize_;
};

}  // namespace wafersim::models
