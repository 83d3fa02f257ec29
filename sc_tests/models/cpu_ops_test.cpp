// The CPU reference's kernels against small cases worked out by hand.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <numeric>

#include "models/cpu_ops.hpp"
#include "common/fp16.hpp"

namespace wafersim::models::cpu {
namespace {

TEST(CpuOps, RmsNormScalesByRootMeanSquareAndWeight) {
  const float x[4] = {1, 2, 3, 4};
  const float w[4] = {1, 1, 2, 0.5f};
  float y[4];
  // mean(x^2) = 30/4 = 7.5; with eps 0.5 the scale is 1/sqrt(8).
  rms_norm(x, w, 4, 0.5, y);
  EXPECT_NEAR(y[0], 0.35355339f, 1e-6);
  EXPECT_NEAR(y[1], 0.70710678f, 1e-6);
  EXPECT_NEAR(y[2], 2.12132034f, 1e-6);
  EXPECT_NEAR(y[3], 0.70710678f, 1e-6);
  rms_norm(x, w, 4, 0.0, y);
  EXPECT_NEAR(y[0], 1.0f / std::sqrt(7.5f), 1e-6);
}

TEST(CpuOps, RopeRotatesHalvesPairwise) {
  // head_dim 4, theta 100: inv_freq = {1, 0.1}; element i pairs with i + 2.
  LlamaConfig c;
  c.head_dim = 4;
  c.rope_theta = 100.0;
  const auto inv_freq = rope_inv_freq(c);
  ASSERT_EQ(inv_freq.size(), 2u);
  EXPECT_DOUBLE_EQ(inv_freq[0], 1.0);
  EXPECT_NEAR(inv_freq[1], 0.1, 1e-15);

  float x[8] = {1, 2, 3, 4, 1, 2, 3, 4};  // two heads
  apply_rope(x, 2, 4, 1, inv_freq);
  // (1, 3) rotated by 1 rad, (2, 4) by 0.1 rad:
  const float expected[4] = {-1.98411065f, 1.59067466f, 2.46237790f, 4.17968349f};
  for (int h = 0; h < 2; ++h)
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(x[h * 4 + i], expected[i], 1e-5) << h << " " << i;

  float z[4] = {1, 2, 3, 4};
  apply_rope(z, 1, 4, 3, inv_freq);
  const float expected3[4] = {-1.41335252f, 0.72859215f, -2.82885748f, 4.41238637f};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(z[i], expected3[i], 1e-5);

  float p0[4] = {1, 2, 3, 4};
  apply_rope(p0, 1, 4, 0, inv_freq);  // position 0 is the identity
  for (int i = 0; i < 4; ++i) EXPECT_EQ(p0[i], static_cast<float>(i + 1));
}

TEST(CpuOps, Llama3RopeScalingMatchesLlama31Frequencies) {
  // Llama-3.1-8B: head_dim 128, theta 5e5, factor 8, low 1, high 4, original context 8192. Expected values
  // computed independently from the published formula.
  LlamaConfig c;
  c.head_dim = 128;
  c.rope_theta = 500000.0;
  c.rope_scaling = RopeScaling{"llama3", 8.0, 1.0, 4.0, 8192};
  const auto f = rope_inv_freq(c);
  ASSERT_EQ(f.size(), 64u);
  EXPECT_DOUBLE_EQ(f[0], 1.0);                                  // short wavelength: kept
  EXPECT_NEAR(f[20], 0.016560440080994446, 1e-15);
  EXPECT_NEAR(f[28], 0.0032114459947525913, 1e-16);             // last one below 8192/4
  EXPECT_NEAR(f[29], 0.002166570763503359, 1e-15);              // interpolated band
  EXPECT_NEAR(f[32], 0.0005248461609929547, 1e-16);
  EXPECT_NEAR(f[34], 0.00017850781276799638, 1e-17);
  EXPECT_NEAR(f[35], 9.556212353964683e-05, 1e-18);             // long wavelength: divided by 8
  EXPECT_NEAR(f[63], 3.068925988914511e-07, 1e-20);
  c.rope_scaling.reset();
  EXPECT_NEAR(rope_inv_freq(c)[35], 0.0007644969883171747, 1e-17);
}

TEST(CpuOps, AttentionSoftmaxWeightsAndCausality) {
  // head_dim 2, one head. Scores: q.k0/sqrt(2) = 0, q.k1/sqrt(2) = ln 3 -> weights 1/4, 3/4.
  const float q[2] = {1, 0};
  const float k[4] = {0, 0, static_cast<float>(std::sqrt(2.0) * std::log(3.0)), 0};
  const float v[4] = {4, 0, 0, 8};
  float out[2], scratch[2];
  attention(q, k, v, 1, 1, 1, 2, out, scratch);
  EXPECT_NEAR(out[0], 1.0f, 1e-6);
  EXPECT_NEAR(out[1], 6.0f, 1e-6);
  // At position 0 the query sees only the first entry, whatever the cache holds beyond it.
  attention(q, k, v, 0, 1, 1, 2, out, scratch);
  EXPECT_FLOAT_EQ(out[0], 4.0f);
  EXPECT_FLOAT_EQ(out[1], 0.0f);
}

TEST(CpuOps, AttentionGroupsQueryHeadsOntoKvHeads) {
  // 4 query heads, 2 KV heads, head_dim 1, one position: heads 0,1 read KV head 0, heads 2,3 read KV head 1.
  const float q[4] = {1, 1, 1, 1};
  const float k[2] = {1, 1};
  const float v[2] = {10, 20};
  float out[4], scratch[4];
  attention(q, k, v, 0, 4, 2, 1, out, scratch);
  EXPECT_EQ(out[0], 10.0f);
  EXPECT_EQ(out[1], 10.0f);
  EXPECT_EQ(out[2], 20.0f);
  EXPECT_EQ(out[3], 20.0f);
}

TEST(CpuOps, MatmulUsesHfOutInLayoutAndBias) {
  // w = [[1,2,3],[4,5,6]] (out=2, in=3); x = two tokens.
  const float w[6] = {1, 2, 3, 4, 5, 6};
  const float x[6] = {1, 0, -1, 2, 1, 0};
  const float b[2] = {0.5f, -1};
  float y[4];
  matmul(x, 2, 3, w, 2, y, b);
  EXPECT_EQ(y[0], -2 + 0.5f);
  EXPECT_EQ(y[1], -2 - 1.0f);
  EXPECT_EQ(y[2], 4 + 0.5f);
  EXPECT_EQ(y[3], 13 - 1.0f);
}

TEST(CpuOps, LargeMatmulMatchesDoublePrecision) {
  // Big enough to run on both cores and through the vector kernels, with a ragged length.
  const int64_t tokens = 19, in = 301, out = 257;
  std::vector<float> x(tokens * in), w(out * in), y(tokens * out);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(0.37 * i));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(std::cos(0.11 * i));
  matmul(x.data(), tokens, in, w.data(), out, y.data());
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t j = 0; j < out; ++j) {
      double ref = 0;
      for (int64_t k = 0; k < in; ++k) ref += static_cast<double>(x[t * in + k]) * w[j * in + k];
      ASSERT_NEAR(y[t * out + j], ref, 1e-4) << t << "," << j;
    }
}

// fp16 / bf16 weights are widened exactly and summed in the same order as fp32 ones: identical results, for the
// AVX2 and the portable kernels, one token (direct) or many (row widened once per token block).
TEST(CpuOps, HalfAndBfloatWeightsGiveTheSameBitsAsTheirFp32Widening) {
  const int64_t tokens = 5, in = 77, out = 19;
  std::vector<float> x(tokens * in), w(out * in);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(0.37 * i));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(std::cos(0.11 * i));
  for (DType dt : {DType::F16, DType::BF16}) {
    std::vector<uint16_t> narrow(w.size());
    std::vector<float> widened(w.size());
    for (size_t i = 0; i < w.size(); ++i) {
      narrow[i] = dt == DType::F16 ? f32_to_f16_bits(w[i]) : f32_to_bf16_bits(w[i]);
      widened[i] = dt == DType::F16 ? f16_bits_to_f32(narrow[i]) : bf16_bits_to_f32(narrow[i]);
    }
    for (bool portable : {false, true}) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + (portable ? " portable" : " native"));
      use_portable_kernels(portable);
      for (int64_t t : {int64_t{1}, tokens}) {
        std::vector<float> a(t * out), b(t * out);
        matmul(x.data(), t, in, WeightView{dt, narrow.data()}, out, a.data());
        matmul(x.data(), t, in, widened.data(), out, b.data());
        EXPECT_EQ(a, b) << t << " tokens";
      }
    }
  }
  use_portable_kernels(false);
}

TEST(CpuOps, PortableAndNativeKernelsGiveTheSameBits) {
  const int64_t in = 1000, out = 64;
  std::vector<float> x(in), w(out * in), a(out), b(out);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(1.3 * i));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(std::cos(0.7 * i));
  use_portable_kernels(true);
  matmul(x.data(), 1, in, w.data(), out, a.data());
  use_portable_kernels(false);
  matmul(x.data(), 1, in, w.data(), out, b.data());
  // Same lanes, same fused multiply-adds, same horizontal order: the same bits on hosts with and without AVX2.
  EXPECT_EQ(a, b);
}

TEST(CpuOps, ParallelRunGivesEveryWorkerItsShareOnceAcrossChangingTeamSizes) {
  std::vector<std::atomic<int>> hits(4);
  int expected[4] = {0, 0, 0, 0};
  for (int job = 0; job < 3000; ++job) {
    const int workers = 1 + (job * 7) % 4;  // 1..4 workers, shrinking and growing between jobs
    parallel_run(workers, [&](int w, int n) {
      EXPECT_EQ(n, workers);
      hits[static_cast<size_t>(w)].fetch_add(1);
      parallel_run(3, [&](int, int n2) { EXPECT_EQ(n2, 3); });  // nested: runs inline
    });
    for (int w = 0; w < workers; ++w) ++expected[w];
  }
  for (int w = 0; w < 4; ++w) EXPECT_EQ(hits[static_cast<size_t>(w)].load(), expected[w]) << w;
}

TEST(CpuOps, SwigluIsSiluOfGateTimesUp) {
  const float gate[3] = {0, 2, -1};
  const float up[3] = {5, 3, 2};
  float out[3];
  swiglu(gate, up, 3, out);
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_NEAR(out[1], 2.0 / (1.0 + std::exp(-2.0)) * 3.0, 1e-6);  // 5.2842...
  EXPECT_NEAR(out[2], -1.0 / (1.0 + std::exp(1.0)) * 2.0, 1e-6);  // -0.5379...
}

}  // namespace
}  // namespace wafersim::models::cpu
