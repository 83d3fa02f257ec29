// Generator: drives any LogitsBackend; stops at EOS or max_new_tokens, streams only complete UTF-8.
#include <gtest/gtest.h>

#include "models/generator.hpp"

namespace wafersim::models {
namespace {

// A backend whose next token (by argmax) is a scripted function of the step: the wafer runtime will plug in
// the same way.
class ScriptedBackend : public LogitsBackend {
 public:
  explicit ScriptedBackend(std::vector<int32_t> script) : script_(std::move(script)) {}
  int64_t vocab_size() const override { return 300; }
  std::vector<float> prefill(const std::vector<int32_t>& tokens) override {
    prefilled = tokens;
    length_ = static_cast<int64_t>(tokens.size());
    step_ = 0;
    return next();
  }
  std::vector<float> decode(int32_t token) override {
    decoded.push_back(token);
    ++length_;
    return next();
  }
  int64_t sequence_length() const override { return length_; }
  std::string describe() const override { return "scripted"; }

  std::vector<int32_t> prefilled, decoded;

 private:
  std::vector<float> next() {
    std::vector<float> logits(300, 0.0f);
    logits[static_cast<size_t>(script_[step_++ % script_.size()])] = 10.0f;
    return logits;
  }
  std::vector<int32_t> script_;
  size_t step_ = 0;
  int64_t length_ = 0;
};

// ids < 256 are bytes; 299 renders as nothing (a special token).
std::string bytes_of(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids)
    if (id < 256) s.push_back(static_cast<char>(id));
  // Emulate a byte-level decoder: a cut UTF-8 sequence at the end becomes U+FFFD.
  if (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0xC0) s.replace(s.size() - 1, 1, "\xEF\xBF\xBD");
  return s;
}

TEST(Generator, StopsAtEosAndKeepsIt) {
  ScriptedBackend backend({'h', 'i', 299, 'x'});
  Generator gen(backend, bytes_of);
  GenerationOptions opt;
  opt.max_new_tokens = 10;
  opt.stop_tokens = {299};
  const auto r = gen.run({1, 2, 3}, opt);
  EXPECT_EQ(r.prompt_tokens, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(r.tokens, (std::vector<int32_t>{'h', 'i', 299}));
  EXPECT_TRUE(r.stopped_at_eos);
  EXPECT_EQ(r.text, "hi");
  EXPECT_EQ(backend.prefilled, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(backend.decoded, (std::vector<int32_t>{'h', 'i'}));  // EOS is not fed back
  EXPECT_EQ(r.decode_steps, 2);
}

TEST(Generator, MaxNewTokensBoundsTheDecodeCalls) {
  ScriptedBackend backend({'a', 'b', 'c'});
  Generator gen(backend);
  GenerationOptions opt;
  opt.max_new_tokens = 5;
  const auto r = gen.run({7}, opt);
  EXPECT_EQ(r.tokens, (std::vector<int32_t>{'a', 'b', 'c', 'a', 'b'}));
  EXPECT_FALSE(r.stopped_at_eos);
  EXPECT_EQ(backend.decoded.size(), 4u);  // the last token needs no decode
  EXPECT_EQ(r.decode_steps, 4);
  EXPECT_EQ(backend.sequence_length(), 5);
  EXPECT_TRUE(r.text.empty());  // no detokeniser
}

TEST(Generator, StreamsOnlyCompleteUtf8) {
  // "é" = C3 A9 arrives in two tokens: nothing is printed until the second.
  ScriptedBackend backend({'o', 0xC3, 0xA9, '!'});
  Generator gen(backend, bytes_of);
  GenerationOptions opt;
  opt.max_new_tokens = 4;
  std::vector<std::string> pieces;
  gen.run({1}, opt, [&](int32_t, std::string_view s) { pieces.emplace_back(s); });
  EXPECT_EQ(pieces, (std::vector<std::string>{"o", "", "\xC3\xA9", "!"}));
}

TEST(Generator, SameSeedSameSampledTokens) {
  ScriptedBackend b1({5, 6, 7}), b2({5, 6, 7});
  GenerationOptions opt;
  opt.max_new_tokens = 6;
  opt.sampling = {.temperature = 50.0, .top_k = 0, .top_p = 1.0, .seed = 11};  // nearly uniform
  const auto r1 = Generator(b1).run({1}, opt);
  const auto r2 = Generator(b2).run({1}, opt);
  EXPECT_EQ(r1.tokens, r2.tokens);
  EXPECT_NE(r1.tokens, (std::vector<int32_t>{5, 6, 7, 5, 6, 7}));  // the temperature flattened the script away
}

TEST(Generator, RejectsEmptyPrompt) {
  ScriptedBackend backend({1});
  EXPECT_THROW(Generator(backend).run({}, {}), std::invalid_argument);
}

}  // namespace
}  // namespace wafersim::models
