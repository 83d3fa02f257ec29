// Prefill of one LLaMA layer on a P x P region (firmware/kernels/llama_prefill.hpp: MeshGEMM projections, dist-GEMM-T
// scores per head, causal softmax) against the fp32 CPU oracle on generated models: GQA and non-GQA, Qwen2 QKV bias,
// prompt lengths that are and are not multiples of P (and shorter than P), P = 1, fp32 and fp16 accumulation. Checked: the layer's output rows and the
// K (after RoPE) and V of every prompt token against the layer composed from models/cpu_ops, and the logits of every
// prompt token (final norm and lm_head on the host) against models/CpuReference on the same one-layer model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "common/error.hpp"
#include "firmware/kernels/llama_prefill.hpp"
#include "models/cpu_ops.hpp"
#include "models/cpu_reference.hpp"
#include "models/model_generator.hpp"
#include "runtime/planner.hpp"
#include "sc_tests/runtime/cpu_prefill.hpp"

using namespace wafersim;
using wafersim::test::f32;

namespace {

// The wafer rounds every GEMM operand (weights are fp16 already; activations, Q, K, V and the probabilities are
// rounded to fp16, relative error <= 2^-11) and sums in fp32; the CPU keeps fp32. Through a layer whose
// activations are O(1) that leaves errors below 5e-4 of the largest element (out, K, V) and below 5e-3 on the
// logits; the bounds below keep a margin of about 6x. An error in the dataflow moves values by O(0.1-1) (without
// the causal mask: 0.86 on out, 6.6 on the logits).
constexpr double kOutTol = 3e-3;    // layer output rows and K / V: max |error| / max(1, max |value|)
constexpr double kLogitTol = 3e-2;  // logits (final norm and lm_head on the host), absolute
// fp16 accumulation rounds every partial sum of the GEMMs to fp16 as well (K of 7-80 terms here): measured errors
// about 5x those of fp32 accumulation (2.2e-3 on out, 2.0e-2 on the logits), so the bounds scale by 5.
constexpr double kFp16AccScale = 5.0;

models::LlamaConfig config(int64_t heads, int64_t kv_heads, bool bias = false, int64_t hidden = 48) {
  models::LlamaConfig c;
  c.vocab_size = 120;
  c.hidden_size = hidden;
  c.intermediate_size = 80;
  c.num_hidden_layers = 1;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv_heads;
  c.head_dim = hidden / heads;
  c.rms_norm_eps = 1e-5;
  c.attention_bias = bias;
  if (bias) c.model_type = "qwen2";
  c.bos_token_id = 118;
  c.eos_token_ids = {119};
  c.torch_dtype = "float16";
  return c;
}

// max |a - b| / max(1, max |b|)
double rel_error(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0, scale = 1;
  for (std::size_t i = 0; i < b.size(); ++i) {
    worst = std::max(worst, std::abs(double(a[i]) - b[i]));
    scale = std::max(scale, std::abs(double(b[i])));
  }
  return worst / scale;
}

kernels::PrefillResult run_case(const models::LlamaConfig& cfg, uint64_t seed, int P, int L, bool acc32 = true) {
  const auto w = std::make_shared<models::LlamaWeights>(models::generate_llama_weights(cfg, seed));
  std::vector<int32_t> prompt(L);
  for (int t = 0; t < L; ++t) prompt[t] = int32_t((t * 37 + 11) % 118);  // below every vocabulary's bos / eos
  const int64_t E = cfg.hidden_size;
  std::vector<float> x(std::size_t(L) * E);
  for (int t = 0; t < L; ++t) w->embed.row_to_f32(std::size_t(prompt[t]), std::size_t(E), &x[std::size_t(t) * E]);
  const auto& lw = w->layers[0];
  const kernels::PrefillWeights pw{f32(lw.input_norm), f32(lw.wq), f32(lw.wk), f32(lw.wv), f32(lw.bq), f32(lw.bk),
                                   f32(lw.bv), f32(lw.wo), f32(lw.post_norm), f32(lw.w_gate), f32(lw.w_up),
                                   f32(lw.w_down)};
  const kernels::PrefillShape shape = runtime::prefill_shape(cfg, P, std::uint32_t(L), acc32);
  auto r = kernels::llama_prefill_layer(shape, pw, x, hw::ArchParams{});

  const test::CpuLayer ref = test::cpu_prefill_layer(w->config, w->layers[0], x, L);
  const double eo = rel_error(r.out, ref.out), ek = rel_error(r.k, ref.k), ev = rel_error(r.v, ref.v);
  const double tol_scale = acc32 ? 1.0 : kFp16AccScale;
  EXPECT_LE(eo, kOutTol * tol_scale) << "layer output";
  EXPECT_LE(ek, kOutTol * tol_scale) << "K";
  EXPECT_LE(ev, kOutTol * tol_scale) << "V";

  // The CPU reference's logits of every prompt token against final norm + lm_head of the wafer's rows.
  models::CpuReference cpu(w, 1);
  const auto logits = cpu.extend_all_logits(prompt);
  const int64_t V = cfg.vocab_size;
  const auto norm_f = f32(w->final_norm);
  std::vector<float> xn(std::size_t(L) * E), lw_logits(std::size_t(L) * V);
  for (int t = 0; t < L; ++t)
    models::cpu::rms_norm(&r.out[std::size_t(t) * E], norm_f.data(), E, cfg.rms_norm_eps, &xn[std::size_t(t) * E]);
  models::cpu::matmul(xn.data(), L, E, models::cpu::view_of(w->output_weights()), V, lw_logits.data());
  double el = 0;
  for (std::size_t i = 0; i < logits.size(); ++i) el = std::max(el, std::abs(double(lw_logits[i]) - logits[i]));
  EXPECT_LE(el, kLogitTol * tol_scale) << "logits";
  std::cout << "P=" << P << " L=" << L << " heads " << cfg.num_attention_heads << "/" << cfg.num_key_value_heads
            << ": out " << eo << ", K " << ek << ", V " << ev << ", logits " << el << "; cycles " << r.cycles << " (";
  for (const auto& k : r.kernels) std::cout << " " << k.kernel << " " << k.cycles << "/" << k.runs;
  std::cout << " )\n";
  return r;
}

TEST(LlamaPrefill, NonGqaPromptAMultipleOfP) { run_case(config(4, 4), 1, 4, 8); }
TEST(LlamaPrefill, GqaPromptNotAMultipleOfP) { run_case(config(4, 2), 2, 4, 7); }
TEST(LlamaPrefill, GqaPromptShorterThanPOnAnOddRegion) { run_case(config(6, 2, false, 48), 3, 5, 3); }
TEST(LlamaPrefill, QkvBiasOddRegion) { run_case(config(4, 1, true), 4, 3, 10); }
TEST(LlamaPrefill, Fp16Accumulation) { run_case(config(4, 2), 6, 4, 7, false); }
TEST(LlamaPrefill, OnePe) { run_case(config(4, 2), 7, 1, 5); }

// The `small` preset's shapes (E 256, 8 / 2 heads of 32, F 768, LLaMA-3.1 RoPE scaling), one layer, at P = 8 with a
// 64-token prompt: the accuracy holds at size, and the printed cycles by kernel are docs/llama-on-wafer.md's table.
TEST(LlamaPrefill, SmallPresetLayerAtP8) {
  models::LlamaConfig c = models::find_model_preset("small").config;
  c.num_hidden_layers = 1;
  run_case(c, 8, 8, 64);
}

// Every query head runs its own scores, softmax and P*V; the projections, RoPE and SwiGLU one each; RMSNorm and the
// residual twice; the cycles add up.
TEST(LlamaPrefill, ReportsCyclesPerKernel) {
  const auto r = run_case(config(4, 2), 5, 4, 8);
  std::uint64_t sum = 0;
  for (const auto& k : r.kernels) {
    sum += k.cycles;
    EXPECT_GT(k.cycles, 0u) << k.kernel;
    const bool per_head = k.kernel == "scores" || k.kernel == "softmax" || k.kernel == "pv";
    EXPECT_EQ(k.runs, per_head ? 4 : k.kernel == "rmsnorm" || k.kernel == "residual" ? 2 : 1) << k.kernel;
  }
  EXPECT_EQ(r.kernels.size(), 11u);  // no bias run without QKV biases
  EXPECT_EQ(sum, r.cycles);
}

TEST(LlamaPrefill, BadShapeNamesTheField) {
  kernels::PrefillShape s{.P = 2, .seq = 4, .hidden = 8, .q_heads = 3, .kv_heads = 2, .head_dim = 4, .ffn = 8,
                          .inv_freq = {1.0, 0.1}};
  try {
    kernels::llama_prefill_layer(s, {}, std::vector<float>(32), hw::ArchParams{});
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("kv_heads"), std::string::npos) << e.what();
  }
}

}  // namespace
