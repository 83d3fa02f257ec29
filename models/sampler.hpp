// Next-token selection from logits: greedy (temperature 0) or seeded sampling with temperature, top-k and
// top-p (nucleus), applied in that order as Hugging Face does. Same seed and logits -> same tokens on every
// host (own RNG, no std:: distributions). Not provided: repetition penalties, min-p, beam search.
#pragma once
#include <cstdint>
#include <span>

namespace wafersim::models {

struct SamplingParams {
  double temperature = 0.0;  // 0: greedy (argmax, lowest id on ties)
  int64_t top_k = 0;         // 0: no limit
  double top_p = 1.0;        // 1: no nucleus cut
  uint64_t seed = 0;
};

// xoshiro256** seeded through splitmix64: small, fast, and the same stream everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t next();
  double uniform();  // [0, 1) with 53 random bits
 private:
  uint64_t s_[4];
};

class Sampler {
 public:
  // Throws std::invalid_argument for temperature < 0, top_k < 0 or top_p outside (0, 1].
  explicit Sampler(const SamplingParams& params);
  int32_t sample(std::span<const float> logits);
  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  Rng rng_;
};

int32_t argmax(std::span<const float> logits);

}  // namespace wafersim::models
