// LLaMA decode on several regions of the wafer (the planner's stages, runtime/wafer_backend.hpp): a model whose
// layers do not fit one region (forced on small models by less SRAM per PE, pe.sram_bytes) runs its layers stage
// by stage, the residual stream handed from one region to the next. Against the fp32 CPU reference: greedy tokens
// equal for 32 new tokens and logits within kLogitTol, on 2 and 3 stages, GQA and non-GQA, a square and a
// non-square mesh, both KV caches (the prompt's K/V handed to each stage's cache); a token's cycles are the stages'
// runs plus the planner's handoffs, and equal `generate --timing-only`'s composition (CLI, two processes: one
// Device per process); the JSON and the summary report the stages.
// One Device per process: each test case runs in its own process (ctest).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <numeric>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "models/model_generator.hpp"
#include "sc_tests/cli_run.hpp"
#include "sc_tests/runtime/small_llama.hpp"

using namespace wafersim;

using wafersim::test::config;
using wafersim::test::expect_same_tokens;

namespace {

// The WSE-2 with less SRAM per PE (a multiple of pe.sram_banks), so that small models need several regions.
hw::ArchParams small_sram(std::uint32_t bytes) {
  hw::ArchParams a;
  a.pe.sram_bytes = bytes;
  return a;
}

models::LlamaConfig layers(models::LlamaConfig c, int64_t n) {
  c.num_hidden_layers = n;
  return c;
}

// 4 GQA layers on 4x4 PEs with 13,312-byte PEs: 2 stages of 2 layers (the second with lm_head).
constexpr std::uint32_t kTwoStageSram = 13312;
// 6 MHA layers on 4x3 PEs with 14,336-byte PEs: 3 stages of 2 layers.
constexpr std::uint32_t kThreeStageSram = 14336;

}  // namespace

TEST(WaferStages, TwoStagesGqaTokensEqualCpuOnSquareMeshWithTheConcatCache) {
  expect_same_tokens({layers(config(4, 2), 4), 6, 4, 4, {198, 5, 17}, 0, kernels::KvPolicy::Concat,
                      small_sram(kTwoStageSram), 2});
}

TEST(WaferStages, ThreeStagesMhaTokensEqualCpuOnNonSquareMeshWithTheShiftCache) {
  expect_same_tokens({layers(config(4, 4), 6), 9, 4, 3, {198, 44, 3, 90}, 0, kernels::KvPolicy::Shift,
                      small_sram(kThreeStageSram), 3});
}

// LLaMA-3 RoPE scaling and the Qwen2 QKV bias on stages: the per-stage weights carry both.
TEST(WaferStages, QwenBiasAndLlama3RopeOnThreeStages) {
  auto cfg = layers(config(4, 2, true, true), 5);
  expect_same_tokens({cfg, 8, 4, 4, {198, 7}, 0, kernels::KvPolicy::Shift, small_sram(10240), 3});  // 2, 2 and 1 layers
}

// The stages as the planner places them (regions side by side in snake order, the layers spread evenly, lm_head on
// the last), each stage's cache filled with its own layers' K/V of the prompt, a step's cycles the stages' runs plus
// the handoffs, and the hand-over timed as the stage with the most layers (the stages hand over in parallel).
TEST(WaferStages, StepCyclesAreTheStagesRunsPlusTheHandoffs) {
  const auto cfg = layers(config(4, 2), 4);
  auto w = std::make_shared<models::LlamaWeights>(models::generate_llama_weights(cfg, 6));
  const hw::ArchParams arch = small_sram(kTwoStageSram);
  runtime::WaferBackend wafer(w, "generated", arch, {.width = 4, .height = 4});
  const runtime::Plan& plan = wafer.plan();
  ASSERT_EQ(plan.stages.size(), 2u);
  EXPECT_EQ(plan.stages[0].layers, 2);
  EXPECT_EQ(plan.stages[1].first_layer, 2);
  EXPECT_FALSE(plan.stages[0].lm_head);
  EXPECT_TRUE(plan.stages[1].lm_head);
  EXPECT_EQ(plan.stages[1].x0, 4);  // beside the first region
  EXPECT_EQ(plan.stages[1].y0, 0);
  EXPECT_GT(plan.handoff_cycles(), 0u);
  EXPECT_NE(wafer.describe().find("x 2 stages"), std::string::npos) << wafer.describe();

  const std::vector<int32_t> prompt{198, 5, 17, 60};
  wafer.prefill(prompt);
  // The hand-over of 3 prompt tokens into the caches of 2 stages of 2 layers: kv_handover for 2 layers.
  const runtime::KvHandover h =
      runtime::kv_handover(wafer.layout(), kernels::KvPolicy::Shift, 4, 3, 2, arch);
  EXPECT_EQ(wafer.handover().cycles, h.cycles);
  EXPECT_EQ(wafer.handover().words_moved, h.words_moved);
  // The weights' re-lay: each stage's layers from the 4x4 prefill square at its origin to its own decode region, so
  // no path leaves a region (at most 3 + 3 hops); both stages on one fabric (runtime::weight_relayout).
  const runtime::WeightRelayout relay = runtime::weight_relayout(4, plan.stages, wafer.layout(), plan.stages, arch);
  EXPECT_EQ(wafer.relayout().cycles, relay.cycles);
  EXPECT_EQ(wafer.relayout().words_moved, relay.words_moved);
  EXPECT_GT(relay.cycles, 0u);
  EXPECT_LE(relay.hops_max, 6);
  EXPECT_EQ(wafer.prefill_cycles(),
            wafer.prefill_run_cycles() + h.cycles + relay.cycles + wafer.prefill_step_cycles());
  for (std::size_t s = 0; s < 2; ++s) {
    const auto& program = wafer.stage_program(s);
    EXPECT_EQ(program.shape.layers, 2u);
    EXPECT_EQ(program.shape.lm_head, s == 1);
    for (int li = 0; li < 2; ++li) {  // the shift cache over the 4 rows of column 0: every prompt token once
      std::uint64_t cached = 0;
      for (int y = 0; y < 4; ++y) cached += kernels::decode_kv_cache(*program.layout, 0, y).fill(li);
      EXPECT_EQ(cached, prompt.size()) << "stage " << s << " layer " << li;
      EXPECT_EQ(kernels::decode_kv_cache(*program.layout, 3, 3).count(li), prompt.size());
    }
  }
  wafer.decode(3);
  wafer.decode(4);
  const std::vector<std::uint64_t> stage = wafer.decode_stage_cycles();
  ASSERT_EQ(stage.size(), 2u);
  EXPECT_GT(stage[0], 0u);
  EXPECT_GT(stage[1], stage[0]);  // the same layers, plus the final RMSNorm and lm_head
  EXPECT_EQ(wafer.decode_cycles(), stage[0] + stage[1] + 2 * plan.handoff_cycles());
  EXPECT_EQ(wafer.decode_steps(), 2u);
}

// Not even the fabric's regions hold the model: the planner's CapacityError, naming the model and the fabric.
TEST(WaferStages, AModelLargerThanTheFabricsRegionsIsACapacityError) {
  hw::ArchParams arch = small_sram(kTwoStageSram);
  arch.fabric.width = 4;  // one 4x4 region
  arch.fabric.height = 4;
  auto w = std::make_shared<models::LlamaWeights>(models::generate_llama_weights(layers(config(4, 2), 4), 6));
  try {
    runtime::WaferBackend wafer(w, "generated", arch, {.width = 4, .height = 4});
    FAIL() << "expected CapacityError";
  } catch (const CapacityError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("generated does not fit the wse2 fabric (4x4 PEs)"), std::string::npos) << m;
    EXPECT_NE(m.find("the 1 regions hold"), std::string::npos) << m;
  }
}

// The CLI: a staged functional run (its own process) against `generate --timing-only` on the same model, mesh and
// arch (another process): the same stages and handoffs, and the decode token's cycles equal the composition.
class WaferStagesCli : public test::CliTest {
 protected:
  // The WSE-2 with `sram` bytes per PE as an --arch file.
  void make_arch(std::uint32_t sram) {
    const test::CliRun p = run("params --set pe.sram_bytes=" + std::to_string(sram) + " > " + arch().string());
    ASSERT_EQ(p.status, 0) << p.out;
  }
  std::filesystem::path model() const { return dir() / "model"; }
  std::filesystem::path arch() const { return dir() / "arch.yaml"; }
  nlohmann::json json(const std::string& name) const {
    return nlohmann::json::parse(std::ifstream(dir() / name));
  }
  // `new_tokens` after a 3-token prompt, functional and timing-only (decode after the prompt's 3 entries).
  void expect_timing_only_agrees(const std::string& mesh, std::size_t stages, int layers, int new_tokens) {
    const std::string common = " --model " + model().string() + " --mesh " + mesh + " --arch " + arch().string();
    const test::CliRun f = run("generate" + common + " --prompt-ids 198,5,17 --ignore-eos --max-new-tokens " +
                               std::to_string(new_tokens + 1) + " --json " + (dir() / "f.json").string());
    ASSERT_EQ(f.status, 0) << f.out;
    const test::CliRun c = run("generate" + common + " --device cpu --prompt-ids 198,5,17 --ignore-eos " +
                               "--max-new-tokens " + std::to_string(new_tokens + 1) + " --json " +
                               (dir() / "c.json").string());
    ASSERT_EQ(c.status, 0) << c.out;
    const test::CliRun t = test::run_cli("WAFERSIM_CACHE_DIR=" + (dir() / "cache").string() + " " + exe().string() +
                                         " generate --timing-only" + common + " --context 3 --max-new-tokens " +
                                         std::to_string(new_tokens) + " --json " + (dir() / "t.json").string());
    ASSERT_EQ(t.status, 0) << t.out;
    const auto fj = json("f.json"), cj = json("c.json"), tj = json("t.json");
    EXPECT_EQ(fj["tokens"], cj["tokens"]);
    ASSERT_EQ(fj["stages"], stages);
    EXPECT_EQ(tj["stages"], stages);
    EXPECT_EQ(fj["handoff_cycles"], tj["handoff_cycles"]);
    EXPECT_GT(fj["handoff_cycles"].get<std::uint64_t>(), 0u);
    ASSERT_EQ(fj["decode_stages"].size(), stages);
    int placed = 0;
    std::uint64_t per_token = fj["handoff_cycles"].get<std::uint64_t>();
    for (const auto& st : fj["decode_stages"]) {
      EXPECT_EQ(st["first_layer"], placed);
      placed += st["layers"].get<int>();
      EXPECT_EQ(st["lm_head"], &st == &fj["decode_stages"].back());
      per_token += st["cycles_per_token"].get<std::uint64_t>();
    }
    EXPECT_EQ(placed, layers);
    EXPECT_NEAR(double(per_token), fj["decode_cycles_per_token"].get<double>(), double(stages));  // integer means
    const double functional = fj["decode_cycles_per_token"].get<double>(),
                 composed = tj["decode_cycles_per_token"].get<double>();
    EXPECT_NEAR(functional, composed, 0.01 * composed);
    std::cout << mesh << ", " << stages << " stages, " << new_tokens << " decode tokens after 3: functional "
              << functional << " cycles per token, timing-only " << composed << " (handoffs "
              << fj["handoff_cycles"] << ")\n";
    EXPECT_NE(f.out.find(std::to_string(stages) + " stages (runtime/planner)"), std::string::npos) << f.out;
  }
};

// The tiny preset (2 layers, vocab 512) with 20,480-byte PEs: 2 stages of one layer each (timing-only then times
// a stage from a 1-layer unit: 2 layers do not fit a PE even without lm_head).
TEST_F(WaferStagesCli, OneTokenOnTwoOneLayerStagesEqualsTheTimingOnlyComposition) {
  ASSERT_EQ(run("make-model --preset tiny --seed 1 --out " + model().string()).status, 0);
  make_arch(20480);
  expect_timing_only_agrees("4x4", 2, 2, 1);
}

// A generated 6-layer MHA model (no tokenizer: prompts as IDs) on 3 stages of 4x3: the mean of 32 decode tokens.
TEST_F(WaferStagesCli, ThirtyTwoTokensOnThreeStagesEqualTheTimingOnlyComposition) {
  models::write_model_directory(layers(config(4, 4), 6), 6, "{}", model());
  std::filesystem::remove(model() / "tokenizer.json");
  make_arch(kThreeStageSram);
  expect_timing_only_agrees("4x3", 3, 6, 32);
}
