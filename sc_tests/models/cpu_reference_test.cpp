// The CPU reference forward pass against a plain double-precision re-implementation written for this test, and
// its invariants: prefill + decode equals recomputation, GQA equals its expansion to full heads.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>

#include "models/cpu_ops.hpp"
#include "models/cpu_reference.hpp"
#include "common/fp16.hpp"
#include "models/model_generator.hpp"
#include "models/safetensors_writer.hpp"
#include "sc_tests/test_dir.hpp"

namespace wafersim::models {
namespace {

// Straightforward forward pass over the whole sequence: doubles everywhere, no cache, no blocking, no threads,
// GQA by index arithmetic. Returns the logits after every token ([tokens][vocab]).
std::vector<double> oracle_logits(const LlamaWeights& w, const std::vector<int32_t>& tokens) {
  const LlamaConfig& c = w.config;
  const size_t T = tokens.size(), H = static_cast<size_t>(c.hidden_size), D = static_cast<size_t>(c.head_dim);
  const size_t NQ = static_cast<size_t>(c.num_attention_heads), NKV = static_cast<size_t>(c.num_key_value_heads);
  const size_t I = static_cast<size_t>(c.intermediate_size), V = static_cast<size_t>(c.vocab_size);
  const auto inv_freq = cpu::rope_inv_freq(c);  // checked on its own in cpu_ops_test
  using Vec = std::vector<double>;
  auto linear = [](const FloatTensor& W, const Vec& x, size_t out, const FloatTensor* b) {
    Vec y(out, 0.0);
    for (size_t j = 0; j < out; ++j) {
      for (size_t k = 0; k < x.size(); ++k) y[j] += W[j * x.size() + k] * x[k];
      if (b && !b->empty()) y[j] += (*b)[j];
    }
    return y;
  };
  auto norm = [&](const Vec& x, const FloatTensor& g) {
    double ss = 0;
    for (double v : x) ss += v * v;
    const double s = 1.0 / std::sqrt(ss / x.size() + c.rms_norm_eps);
    Vec y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * s * g[i];
    return y;
  };
  auto rope = [&](Vec& v, size_t heads, size_t pos) {
    for (size_t h = 0; h < heads; ++h)
      for (size_t i = 0; i < D / 2; ++i) {
        const double a = v[h * D + i], b = v[h * D + i + D / 2], th = pos * inv_freq[i];
        v[h * D + i] = a * std::cos(th) - b * std::sin(th);
        v[h * D + i + D / 2] = b * std::cos(th) + a * std::sin(th);
      }
  };

  std::vector<Vec> x(T, Vec(H));
  for (size_t t = 0; t < T; ++t)
    for (size_t i = 0; i < H; ++i) x[t][i] = w.embed[static_cast<size_t>(tokens[t]) * H + i];
  for (const LayerWeights& L : w.layers) {
    std::vector<Vec> q(T), k(T), v(T);
    for (size_t t = 0; t < T; ++t) {
      const Vec h = norm(x[t], L.input_norm);
      q[t] = linear(L.wq, h, NQ * D, &L.bq);
      k[t] = linear(L.wk, h, NKV * D, &L.bk);
      v[t] = linear(L.wv, h, NKV * D, &L.bv);
      rope(q[t], NQ, t);
      rope(k[t], NKV, t);
    }
    for (size_t t = 0; t < T; ++t) {
      Vec att(NQ * D, 0.0);
      for (size_t hq = 0; hq < NQ; ++hq) {
        const size_t hk = hq * NKV / NQ;
        Vec s(t + 1);
        double mx = -1e300, sum = 0;
        for (size_t u = 0; u <= t; ++u) {
          s[u] = 0;
          for (size_t i = 0; i < D; ++i) s[u] += q[t][hq * D + i] * k[u][hk * D + i];
          s[u] /= std::sqrt(static_cast<double>(D));
          mx = std::max(mx, s[u]);
        }
        for (size_t u = 0; u <= t; ++u) sum += (s[u] = std::exp(s[u] - mx));
        for (size_t u = 0; u <= t; ++u)
          for (size_t i = 0; i < D; ++i) att[hq * D + i] += s[u] / sum * v[u][hk * D + i];
      }
      const Vec o = linear(L.wo, att, H, nullptr);
      for (size_t i = 0; i < H; ++i) x[t][i] += o[i];
      const Vec h = norm(x[t], L.post_norm);
      const Vec g = linear(L.w_gate, h, I, nullptr), up = linear(L.w_up, h, I, nullptr);
      Vec a(I);
      for (size_t i = 0; i < I; ++i) a[i] = g[i] / (1.0 + std::exp(-g[i])) * up[i];
      const Vec d = linear(L.w_down, a, H, nullptr);
      for (size_t i = 0; i < H; ++i) x[t][i] += d[i];
    }
  }
  std::vector<double> logits;
  for (size_t t = 0; t < T; ++t) {
    const Vec y = linear(w.output_weights(), norm(x[t], w.final_norm), V, nullptr);
    logits.insert(logits.end(), y.begin(), y.end());
  }
  return logits;
}

std::vector<int32_t> some_tokens(size_t n, int64_t vocab) {
  std::vector<int32_t> t;
  for (size_t i = 0; i < n; ++i) t.push_back(static_cast<int32_t>((i * 37 + 11) % static_cast<size_t>(vocab)));
  return t;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b, size_t offset = 0) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[offset + i]));
  return m;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, static_cast<double>(std::abs(a[i] - b[i])));
  return m;
}

std::shared_ptr<const LlamaWeights> weights_for(const LlamaConfig& c, uint64_t seed = 7) {
  return std::make_shared<const LlamaWeights>(generate_llama_weights(c, seed));
}

TEST(CpuReference, MatchesDoublePrecisionOracleOnTinyPreset) {
  const auto w = weights_for(find_model_preset("tiny").config);
  const auto tokens = some_tokens(9, w->config.vocab_size);
  CpuReference ref(w);
  const auto logits = ref.extend_all_logits(tokens);
  const auto expected = oracle_logits(*w, tokens);
  ASSERT_EQ(logits.size(), expected.size());
  EXPECT_LT(max_abs_diff(logits, expected), 2e-4);
  // The logits are spread out, so the tolerance above is meaningful.
  double lo = 1e9, hi = -1e9;
  for (float v : logits) lo = std::min(lo, double(v)), hi = std::max(hi, double(v));
  EXPECT_GT(hi - lo, 5.0);
}

TEST(CpuReference, MatchesOracleWithQwen2BiasAndTiedEmbeddings) {
  LlamaConfig c = find_model_preset("tiny").config;
  c.model_type = "qwen2";
  c.attention_bias = true;
  c.tie_word_embeddings = true;
  c.rms_norm_eps = 1e-6;
  c.rope_theta = 1e6;
  const auto w = weights_for(c);
  ASSERT_FALSE(w->layers[0].bq.empty());
  const auto tokens = some_tokens(8, c.vocab_size);
  CpuReference ref(w);
  const auto logits = ref.extend_all_logits(tokens);
  EXPECT_LT(max_abs_diff(logits, oracle_logits(*w, tokens)), 2e-4);

  // The biases matter: without them the logits move.
  auto no_bias = std::make_shared<LlamaWeights>(*w);
  for (auto& l : no_bias->layers) l.bq = FloatTensor(l.bq.shape(), std::vector<float>(l.bq.size(), 0.0f));
  CpuReference ref2(no_bias);
  EXPECT_GT(max_abs_diff(ref2.extend_all_logits(tokens), logits), 1e-3);
}

TEST(CpuReference, MatchesOracleWithLlama3RopeScaling) {
  const auto w = weights_for(find_model_preset("small").config);
  ASSERT_TRUE(w->config.rope_scaling.has_value());
  const auto tokens = some_tokens(6, w->config.vocab_size);
  CpuReference ref(w);
  EXPECT_LT(max_abs_diff(ref.extend_all_logits(tokens), oracle_logits(*w, tokens)), 5e-4);
}

TEST(CpuReference, PrefillThenDecodeEqualsRecomputingTheSequence) {
  const auto w = weights_for(find_model_preset("tiny").config);
  const auto tokens = some_tokens(14, w->config.vocab_size);
  CpuReference incremental(w);
  const size_t prompt = 5;
  std::vector<float> logits = incremental.prefill({tokens.begin(), tokens.begin() + prompt});
  for (size_t n = prompt; n <= tokens.size(); ++n) {
    CpuReference fresh(w);
    const auto full = fresh.prefill({tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(n)});
    EXPECT_LT(max_abs_diff(logits, full), 1e-4) << "after " << n << " tokens";
    EXPECT_EQ(incremental.sequence_length(), static_cast<int64_t>(n));
    if (n < tokens.size()) logits = incremental.decode(tokens[n]);
  }
  // A new prefill starts a new sequence.
  const auto again = incremental.prefill({tokens.begin(), tokens.begin() + 3});
  CpuReference fresh(w);
  EXPECT_EQ(again, fresh.prefill({tokens.begin(), tokens.begin() + 3}));
}

TEST(CpuReference, GqaEqualsItsExpansionToFullHeads) {
  const LlamaConfig gqa = find_model_preset("tiny").config;  // 4 query heads, 2 KV heads
  ASSERT_EQ(gqa.kv_group(), 2);
  const auto w = weights_for(gqa);
  auto full = std::make_shared<LlamaWeights>(*w);
  full->config.num_key_value_heads = gqa.num_attention_heads;
  const int64_t D = gqa.head_dim, H = gqa.hidden_size;
  for (size_t l = 0; l < full->layers.size(); ++l) {
    // Query head h reads KV head h / group: give every query head its own copy of that KV head.
    auto expand = [&](const FloatTensor& kv) {
      std::vector<float> out;
      for (int64_t h = 0; h < gqa.num_attention_heads; ++h) {
        const size_t first = static_cast<size_t>((h / gqa.kv_group()) * D * H);
        for (size_t i = first; i < first + static_cast<size_t>(D * H); ++i) out.push_back(kv[i]);
      }
      return FloatTensor({gqa.num_attention_heads * D, H}, out);
    };
    full->layers[l].wk = expand(w->layers[l].wk);
    full->layers[l].wv = expand(w->layers[l].wv);
  }
  const auto tokens = some_tokens(10, gqa.vocab_size);
  CpuReference a(w), b(full);
  const auto la = a.extend_all_logits(tokens);
  const auto lb = b.extend_all_logits(tokens);
  EXPECT_LT(max_abs_diff(la, lb), 1e-5);
  // ...and mapping query heads onto the wrong KV heads would be visible.
  auto wrong = std::make_shared<LlamaWeights>(*w);
  for (auto& l : wrong->layers) std::swap(l.wk, l.wv);
  CpuReference c(wrong);
  EXPECT_GT(max_abs_diff(c.extend_all_logits(tokens), la), 1e-3);
}

TEST(CpuReference, ThreadCountDoesNotChangeTheLogits) {
  // The small preset's MLP and lm_head products are large enough to run on both cores.
  const auto w = weights_for(find_model_preset("small").config);
  const auto tokens = some_tokens(20, w->config.vocab_size);
  CpuReference one(w, 1), two(w, 2), adaptive(w);
  std::vector<float> a = one.prefill({tokens.begin(), tokens.begin() + 12});
  EXPECT_EQ(a, two.prefill({tokens.begin(), tokens.begin() + 12}));
  EXPECT_EQ(a, adaptive.prefill({tokens.begin(), tokens.begin() + 12}));
  for (size_t i = 12; i < tokens.size(); ++i) {
    a = one.decode(tokens[i]);
    EXPECT_EQ(a, two.decode(tokens[i])) << i;
    EXPECT_EQ(a, adaptive.decode(tokens[i])) << i;
  }
}

// A checkpoint stored as F32, F16 or BF16 (read in place) gives exactly the logits of its values held as fp32.
TEST(CpuReference, StoredDtypesGiveTheLogitsOfTheirValues) {
  const LlamaConfig c = find_model_preset("tiny").config;
  const std::vector<int32_t> tokens = some_tokens(6, c.vocab_size);
  const wafersim::test::TestDir dir;
  for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
    SCOPED_TRACE(std::string(dtype_name(dt)));
    auto rounded = [dt](std::vector<float> v) {
      for (auto& x : v) x = dt == DType::BF16 ? bf16_bits_to_f32(f32_to_bf16_bits(x)) : dt == DType::F16 ? f16_bits_to_f32(f32_to_f16_bits(x)) : x;
      return v;
    };
    std::vector<TensorToWrite> tensors;
    for (const auto& e : expected_tensors(c))
      tensors.push_back({e.name, dt, e.shape, [&, e] { return encode_floats(generate_tensor(e, c, 3), dt); }});
    {
      std::ofstream out(dir / "model.safetensors", std::ios::binary | std::ios::trunc);
      write_safetensors(out, tensors);
    }
    auto from_file = std::make_shared<const LlamaWeights>(load_llama_weights(Checkpoint::open(dir.path()), c));
    EXPECT_EQ(from_file->layers[0].w_up.dtype(), dt);
    auto in_memory = std::make_shared<const LlamaWeights>(assemble_llama_weights(
        c, [&](const ExpectedTensor& e) { return FloatTensor(e.shape, rounded(generate_tensor(e, c, 3))); }));
    CpuReference a(from_file), b(in_memory);
    EXPECT_EQ(a.prefill(tokens), b.prefill(tokens));
    EXPECT_EQ(a.decode(9), b.decode(9));
  }
}

TEST(CpuReference, RejectsBadTokensAndOverlongSequences) {
  LlamaConfig c = find_model_preset("tiny").config;
  c.max_position_embeddings = 8;
  CpuReference ref(weights_for(c));
  EXPECT_THROW(ref.decode(1), std::logic_error);
  EXPECT_THROW(ref.prefill({}), std::invalid_argument);
  EXPECT_THROW(ref.prefill({1, 512}), std::invalid_argument);
  EXPECT_THROW(ref.prefill({1, -1}), std::invalid_argument);
  ref.prefill(some_tokens(8, c.vocab_size));
  EXPECT_THROW(ref.decode(3), std::length_error);
}

}  // namespace
}  // namespace wafersim::models
