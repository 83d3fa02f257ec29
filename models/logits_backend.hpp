// The source of next-token logits for a Generator: the CPU reference today, the modelled wafer later. A backend
// holds one sequence (its KV cache); prefill starts it, decode extends it by one token. Not covered: batching,
// beam search, rewinding a sequence.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace wafersim::models {

class LogitsBackend {
 public:
  virtual ~LogitsBackend() = default;
  virtual int64_t vocab_size() const = 0;
  // Starts a new sequence with `tokens` (at least one) and returns the logits that follow the last of them.
  virtual std::vector<float> prefill(const std::vector<int32_t>& tokens) = 0;
  // Appends `token` to the sequence and returns the logits that follow it.
  virtual std::vector<float> decode(int32_t token) = 0;
  // Tokens in the sequence so far (prompt + decoded).
  virtual int64_t sequence_length() const = 0;
  // One line for logs and result files, e.g. "cpu (fp32 reference, 2 threads)".
  virtual std::string describe() const = 0;
};

}  // namespace wafersim::models
