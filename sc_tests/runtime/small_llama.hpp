// The small generated LLaMA models of the wafer tests (sc_tests/runtime/wafer_*_test.cpp) and their check: greedy
// tokens on the wafer equal the fp32 CPU reference's, logits within kLogitTol, the programs' SRAM equal to the
// layout's arithmetic (every stage's, when the planner places the model on several regions). One WaferBackend (one
// Device) per process: each test case runs in its own process (ctest).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>
#include <vector>

#include "models/cpu_reference.hpp"
#include "models/model_generator.hpp"
#include "runtime/wafer_backend.hpp"

namespace wafersim::test {

// fp16 weights are exact on the wafer; the GEMV inputs, q and the KV cache are rounded to fp16 (the CPU keeps
// fp32), so logits of O(1-10) differ by a few 1e-3.
constexpr float kLogitTol = 0.05f;

inline models::LlamaConfig config(int64_t heads, int64_t kv_heads, bool llama3_rope = false, bool bias = false,
                                  int64_t hidden = 40) {
  models::LlamaConfig c;
  c.vocab_size = 200;
  c.hidden_size = hidden;
  c.intermediate_size = 72;
  c.num_hidden_layers = 2;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv_heads;
  c.head_dim = hidden / heads;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = llama3_rope ? 500000.0 : 10000.0;
  if (llama3_rope) c.rope_scaling = models::RopeScaling{"llama3", 8.0, 1.0, 4.0, 16};
  c.attention_bias = bias;
  if (bias) c.model_type = "qwen2";
  c.bos_token_id = 198;
  c.eos_token_ids = {199};
  c.torch_dtype = "float16";
  return c;
}

inline int argmax(const std::vector<float>& v) { return int(std::max_element(v.begin(), v.end()) - v.begin()); }

struct Case {
  models::LlamaConfig cfg;
  uint64_t seed;
  int width, height;
  std::vector<int32_t> prompt;
  std::uint32_t kv_slots = 0;
  kernels::KvPolicy kv = kernels::KvPolicy::Shift;
  hw::ArchParams arch{};
  std::size_t stages = 1;  // the planner's stages the case expects
};

inline void expect_same_tokens(const Case& c, int new_tokens = 32) {
  auto w = std::make_shared<models::LlamaWeights>(models::generate_llama_weights(c.cfg, c.seed));
  models::CpuReference cpu(w, 1);
  runtime::WaferBackend wafer(w, "generated", c.arch,
                             {.width = c.width, .height = c.height, .kv_slots = c.kv_slots, .kv_policy = c.kv});
  ASSERT_EQ(wafer.plan().stages.size(), c.stages);
  std::vector<float> lc = cpu.prefill(c.prompt), lw = wafer.prefill(c.prompt);
  float worst = 0;
  for (int t = 0; t < new_tokens; ++t) {
    ASSERT_EQ(lw.size(), lc.size());
    for (std::size_t i = 0; i < lc.size(); ++i) worst = std::max(worst, std::abs(lw[i] - lc[i]));
    const int tc = argmax(lc), tw = argmax(lw);
    ASSERT_EQ(tw, tc) << "token " << t << " (max logit difference so far " << worst << ")";
    lc = cpu.decode(tc);
    lw = wafer.decode(tw);
  }
  EXPECT_LE(worst, kLogitTol);
  std::cout << "prompt " << c.prompt.size() << " tokens: prefill runs " << wafer.prefill_run_cycles()
            << " cycles, hand-over " << wafer.handover().cycles << ", last prompt token " << wafer.prefill_step_cycles()
            << "; max |logit difference| over " << new_tokens << " tokens: " << worst << ", cycles per token "
            << wafer.decode_cycles() / wafer.decode_steps() << "\n";
  // Every prompt token but the last ran through the prefill (none for a 1-token prompt).
  EXPECT_EQ(wafer.prefill_run_cycles() > 0, c.prompt.size() > 1);
  EXPECT_EQ(wafer.handover().tokens, c.prompt.size() - 1);
  // The programs allocate exactly what the layout counts (the largest stage's).
  const auto& l = wafer.layout();
  std::uint64_t sram = 0;
  for (const runtime::Stage& st : wafer.plan().stages)
    sram = std::max(sram, l.sram_bytes_per_pe(st.layers, wafer.kv_slots(), st.lm_head));
  EXPECT_EQ(wafer.sram_bytes_per_pe_max(), sram + c.arch.pe.code_reserve_bytes);
}

}  // namespace wafersim::test
