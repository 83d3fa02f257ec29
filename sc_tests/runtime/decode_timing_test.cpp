// Timing-only decode (runtime/decode_timing.hpp): the composition from one 2-layer simulation equals a full
// simulation of every layer within 1% (with lm_head, and for a stage without it), the first and last tokens are the contexts they name, and the on-disk cache
// is hit by a second timer and missed when a parameter, the context or the KV policy changes.
// One Device per process: each test case runs in its own process (ctest).
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "runtime/decode_timing.hpp"
#include "sc_tests/test_dir.hpp"

using namespace wafersim;

namespace {

models::LlamaConfig config(int64_t layers) {
  models::LlamaConfig c;
  c.vocab_size = 200;
  c.hidden_size = 40;
  c.intermediate_size = 72;
  c.num_hidden_layers = layers;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 10;
  c.rms_norm_eps = 1e-5;
  c.bos_token_id = 198;
  c.eos_token_ids = {199};
  c.torch_dtype = "float16";
  return c;
}

void expect_composition_matches(kernels::KvPolicy kv, int width, int height) {
  test::TestDir dir;
  const models::LlamaConfig c = config(6);
  runtime::DecodeTimer timer(c, "generated", hw::ArchParams{},
                             {.width = width, .height = height, .kv_slots = 12, .kv_policy = kv}, dir / "cache");
  ASSERT_EQ(timer.plan().stages.size(), 1u);
  for (std::uint64_t context : {0u, 7u, 11u}) {
    const runtime::DecodeTiming t = timer.time(context, 1);
    const std::uint64_t full = timer.cycles(6, context);
    EXPECT_NEAR(double(t.first_token_cycles), double(full), 0.01 * double(full)) << "context " << context;
    EXPECT_EQ(t.first_token_cycles, t.last_token_cycles);
    EXPECT_GT(t.layer_cycles_first, 0u);
    // A stage without lm_head (before the last): e0 + 5 (e1 - e0) against 6 layers simulated without it.
    const runtime::UnitTiming u = timer.unit(2, context);
    ASSERT_GT(u.layer_ends[0], 0u);
    EXPECT_EQ(u.layer_ends[1] - u.layer_ends[0], t.layer_cycles_first);
    const double headless = double(u.layer_ends[0] + 5 * t.layer_cycles_first);
    const double full_headless = double(timer.cycles(6, context, false));
    EXPECT_NEAR(headless, full_headless, 0.01 * full_headless) << "context " << context;
  }
  // The last of several tokens is the token at the last context; the mean lies between.
  const runtime::DecodeTiming many = timer.time(0, 12);
  EXPECT_EQ(many.last_token_cycles, timer.time(11, 1).first_token_cycles);
  EXPECT_GT(many.last_token_cycles, many.first_token_cycles);  // attention over more entries
  EXPECT_DOUBLE_EQ(many.mean_token_cycles, 0.5 * double(many.first_token_cycles + many.last_token_cycles));
}

}  // namespace

TEST(DecodeTiming, ComposedEqualsFullSimulationWithTheShiftCache) {
  expect_composition_matches(kernels::KvPolicy::Shift, 4, 3);
}

TEST(DecodeTiming, ComposedEqualsFullSimulationWithTheConcatCache) {
  expect_composition_matches(kernels::KvPolicy::Concat, 3, 5);
}

TEST(DecodeTiming, SecondRunIsCachedAndAChangedKeyMisses) {
  test::TestDir dir;
  const models::LlamaConfig c = config(3);
  const runtime::WaferOptions opt{.width = 4, .height = 4, .kv_slots = 8};
  runtime::DecodeTimer first(c, "generated", hw::ArchParams{}, opt, dir / "cache");
  const runtime::DecodeTiming a = first.time(5, 10);
  EXPECT_EQ(a.simulations, 2);  // 2 layers at contexts 5 and 14
  EXPECT_EQ(a.cached, 0);

  runtime::DecodeTimer second(c, "generated", hw::ArchParams{}, opt, dir / "cache");
  const runtime::DecodeTiming b = second.time(5, 10);
  EXPECT_EQ(b.simulations, 0);
  EXPECT_EQ(b.cached, 2);
  EXPECT_EQ(b.first_token_cycles, a.first_token_cycles);
  EXPECT_EQ(b.last_token_cycles, a.last_token_cycles);
  // One layer by kernel, kept with the entry: every phase of a step at PE (0, H-1), the layer's ones halved.
  EXPECT_EQ(b.layer_phase_cycles_first, a.layer_phase_cycles_first);
  ASSERT_EQ(a.layer_phase_cycles_first.size(), 13u);
  EXPECT_EQ(a.layer_phase_cycles_first.front().first, "rmsnorm");
  EXPECT_EQ(a.layer_phase_cycles_first.back().first, "lm_head");
  const auto unit = second.cached(2, 5)->phases;
  ASSERT_EQ(unit.size(), 13u);
  std::uint64_t layer = 0;
  for (std::size_t i = 0; i < unit.size(); ++i) {
    EXPECT_GT(unit[i].second, 0u) << unit[i].first;
    const bool head = unit[i].first == "final rmsnorm" || unit[i].first == "lm_head";
    EXPECT_EQ(a.layer_phase_cycles_first[i].second, head ? unit[i].second : unit[i].second / 2) << unit[i].first;
    layer += head ? 0 : a.layer_phase_cycles_first[i].second;
  }
  EXPECT_NEAR(double(layer), double(a.layer_cycles_first), 0.05 * double(a.layer_cycles_first));

  ASSERT_TRUE(second.cached(2, 5).has_value());
  EXPECT_GT(second.cached(2, 5)->layer_ends[1], second.cached(2, 5)->layer_ends[0]);
  EXPECT_FALSE(second.cached(2, 6).has_value());          // another context
  EXPECT_FALSE(second.cached(3, 5).has_value());          // another layer count
  EXPECT_FALSE(second.cached(2, 5, false).has_value());   // without lm_head
  hw::ArchParams slower;
  slower.router.link_latency += 1;
  EXPECT_FALSE(runtime::DecodeTimer(c, "generated", slower, opt, dir / "cache").cached(2, 5).has_value());
  runtime::WaferOptions concat = opt;
  concat.kv_policy = kernels::KvPolicy::Concat;
  EXPECT_FALSE(runtime::DecodeTimer(c, "generated", hw::ArchParams{}, concat, dir / "cache").cached(2, 5).has_value());
  runtime::WaferOptions fp16 = opt;
  fp16.fp32_accumulate = false;
  EXPECT_FALSE(runtime::DecodeTimer(c, "generated", hw::ArchParams{}, fp16, dir / "cache").cached(2, 5).has_value());
  // No cache directory: nothing is read or written.
  EXPECT_FALSE(runtime::DecodeTimer(c, "generated", hw::ArchParams{}, opt, {}).cached(2, 5).has_value());
}

TEST(DecodeTiming, ContextPastTheCacheIsACapacityError) {
  const models::LlamaConfig c = config(2);
  runtime::DecodeTimer timer(c, "generated", hw::ArchParams{}, {.width = 2, .height = 2, .kv_slots = 3}, {});
  EXPECT_EQ(timer.max_context(), 6u);
  EXPECT_THROW(timer.time(5, 2), CapacityError);
}

// A large vocabulary: the last stage holds lm_head beside fewer layers, and 2 layers + lm_head do not fit a PE
// together; the timing then composes 2 layers without lm_head and 1 layer with it, and still equals the stages
// simulated whole.
TEST(DecodeTiming, WhenTwoLayersAndLmHeadDoNotFitTheHeadStageIsTimedFromOneLayer) {
  test::TestDir dir;
  models::LlamaConfig c = config(4);
  c.vocab_size = 1500;
  c.bos_token_id = 1498;
  c.eos_token_ids = {1499};
  runtime::DecodeTimer timer(c, "generated", hw::ArchParams{}, {.width = 2, .height = 2, .kv_slots = 4}, dir / "cache");
  const runtime::Plan& plan = timer.plan();
  ASSERT_GE(plan.stages.size(), 2u);
  ASSERT_TRUE(plan.stages.back().lm_head);
  EXPECT_THROW(timer.unit(2, 3), CapacityError);
  const runtime::DecodeTiming t = timer.time(3, 1);
  std::uint64_t full = t.handoff_cycles;
  for (const runtime::Stage& st : plan.stages) full += timer.cycles(std::uint32_t(st.layers), 3, st.lm_head);
  EXPECT_NEAR(double(t.first_token_cycles), double(full), 0.01 * double(full));
  EXPECT_GT(t.layer_cycles_first, 0u);
  EXPECT_GT(t.head_cycles_first, 0u);
}
