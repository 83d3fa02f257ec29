#include "models/generator.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>

namespace wafersim::models {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}
// A byte-level detokeniser renders a cut UTF-8 sequence as U+FFFD; hold such a tail back until it completes.
bool ends_incomplete(const std::string& text) { return text.size() >= 3 && text.ends_with("\xEF\xBF\xBD"); }
}  // namespace

Generator::Generator(LogitsBackend& backend, Detokenizer detokenize)
    : backend_(backend), detokenize_(std::move(detokenize)) {}

GenerationResult Generator::run(const std::vector<int32_t>& prompt, const GenerationOptions& options,
                                const TokenCallback& on_token) {
  if (prompt.empty()) throw std::invalid_argument("the prompt has no tokens");
  if (options.max_new_tokens < 0) throw std::invalid_argument("max_new_tokens must be >= 0");
  GenerationResult result;
  result.prompt_tokens = prompt;
  if (options.max_new_tokens == 0) return result;
  Sampler sampler(options.sampling);

  auto start = Clock::now();
  std::vector<float> logits = backend_.prefill(prompt);
  result.prefill_seconds = seconds_since(start);

  std::string emitted;  // the detokenised text already passed to on_token
  std::string text;
  for (int64_t step = 0; step < options.max_new_tokens; ++step) {
    const int32_t token = sampler.sample(logits);
    result.tokens.push_back(token);
    const bool stop = std::find(options.stop_tokens.begin(), options.stop_tokens.end(), token) !=
                      options.stop_tokens.end();
    const bool last = stop || step + 1 == options.max_new_tokens;
    std::string_view fresh;
    if (detokenize_) {
      text = detokenize_(result.tokens);
      if (text.size() > emitted.size() && text.starts_with(emitted) && (last || !ends_incomplete(text))) {
        fresh = std::string_view(text).substr(emitted.size());
        emitted = text;
      }
    }
    if (on_token) on_token(token, fresh);
    if (stop) {
      result.stopped_at_eos = true;
      break;
    }
    if (last) break;
    start = Clock::now();
    logits = backend_.decode(token);
    result.decode_seconds += seconds_since(start);
    ++result.decode_steps;
  }
  result.text = std::move(text);
  return result;
}

}  // namespace wafersim::models
