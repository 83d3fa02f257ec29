// The planner (runtime/planner.hpp) on a hand-sized model: every number below is computed by hand in the comments
// (from the decode layout's rules, runtime/decode_layout.hpp), so a change of the layout or of the stacking shows
// up here. Then the errors (mesh larger than the fabric, model that does not fit, prefill on a non-square mesh) and
// the paper's LLaMA3-8B at 360x360.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "common/error.hpp"
#include "models/llama_config.hpp"
#include "models/model_names.hpp"
#include "runtime/planner.hpp"

namespace wafersim::runtime {
namespace {

// hidden 8, 2 query heads sharing 1 KV head of head_dim 4, FFN 12, vocab 16, 5 layers.
models::LlamaConfig tiny() {
  models::LlamaConfig c;
  c.vocab_size = 16;
  c.hidden_size = 8;
  c.intermediate_size = 12;
  c.num_hidden_layers = 5;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.head_dim = 4;
  return c;
}

// A fabric of fw x fh PEs with 1,200 bytes per PE for data.
hw::ArchParams small_arch(int fw, int fh) {
  hw::ArchParams a;
  a.fabric.width = fw;
  a.fabric.height = fh;
  a.pe.sram_bytes = 1296;
  a.pe.code_reserve_bytes = 96;
  return a;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

TEST(Planner, DecodeStagesAndKvCapacityByHand) {
  // 2x2 region: hidden block 4 (V_y over 2 rows); 2 pair units over 2 columns (block 1): q 4, k 2, v 2 per PE;
  // FFN block 6, vocab block 8.
  // Layer weights: W_qkv 4*8*2 = 64, W_o 4*4*2 = 32, gate|up 4*12*2 = 96, down 6*4*2 = 48, norms 2*16 = 32: 272.
  // Activations 224 (decode_layout.cpp's list); one cached token of n layers: n * 2 * 4 + 2 heads * 6 = 8n + 12;
  // lm_head: 16 + 4*8*2 + 32 = 112. Limit 1,200.
  // One stage of 5 layers: no. Two stages: last = 2 layers + lm_head (1200 - 544 - 224 - 112 = 320 -> 320/28 = 11
  // slots), first = 3 layers (1200 - 816 - 224 = 160 -> 160/36 = 4 slots); last = 3 + lm_head leaves 1 slot, last =
  // 1 leaves 4 layers on the first stage (1312 bytes: no). So stages [3, 2 + lm_head], 4 slots.
  const Plan p = plan_decode(tiny(), "tiny", 2, 2, small_arch(4, 2));
  EXPECT_EQ(p.regions_available, 2);
  EXPECT_EQ(p.layer_weight_bytes_per_pe, 272u);
  EXPECT_EQ(p.hidden, 8u);
  EXPECT_EQ(p.ffn, 12u);
  ASSERT_EQ(p.stages.size(), 2u);
  EXPECT_EQ(p.stages[0].first_layer, 0);
  EXPECT_EQ(p.stages[0].layers, 3);
  EXPECT_FALSE(p.stages[0].lm_head);
  EXPECT_EQ(p.stages[0].sram_bytes_per_pe, 3u * 272 + 224);
  EXPECT_EQ(p.stages[0].kv_slots_per_pe, 4u);
  EXPECT_EQ(p.stages[1].first_layer, 3);
  EXPECT_EQ(p.stages[1].layers, 2);
  EXPECT_TRUE(p.stages[1].lm_head);
  EXPECT_EQ(p.stages[1].sram_bytes_per_pe, 2u * 272 + 224 + 112);
  EXPECT_EQ(p.stages[1].kv_slots_per_pe, 11u);
  // Stage 1 sits beside stage 0: origin (2, 0); handoff 2 hops: ramp 2 + 2 hops * 2 + ramp 2 + hidden block 4.
  EXPECT_EQ(p.stages[1].x0, 2);
  EXPECT_EQ(p.stages[1].y0, 0);
  EXPECT_EQ(p.stages[0].handoff_hops, 2);
  EXPECT_EQ(p.stages[0].handoff_cycles, 12u);
  EXPECT_EQ(p.stages[1].handoff_hops, 0);
  EXPECT_EQ(p.kv_slots_per_pe, 4u);
  EXPECT_EQ(p.kv_bytes_per_token_per_pe, 8u * 3 + 12);
  EXPECT_EQ(p.shift_max_tokens, 8u);  // 2 rows x 4
  EXPECT_EQ(p.concat_max_tokens, 4u);
  EXPECT_EQ(p.sram_bytes_per_pe_max, 1040u);
  EXPECT_EQ(p.to_json()["stage_count"], 2);
}

TEST(Planner, StackedRegionsAreHandedOverTheRowsBetweenThem) {
  // A 2x4 fabric holds the two 2x2 stages one above the other: handoff H = 2 hops, the 2 rows' blocks share the 2
  // column links (ceil(2/2) = 1 block each): 2 + 4 + 2 + 4 = 12 cycles; the second region starts at (0, 2).
  const Plan p = plan_decode(tiny(), "tiny", 2, 2, small_arch(2, 4));
  ASSERT_EQ(p.stages.size(), 2u);
  EXPECT_EQ(p.stages[1].x0, 0);
  EXPECT_EQ(p.stages[1].y0, 2);
  EXPECT_EQ(p.stages[0].handoff_hops, 2);
  EXPECT_EQ(p.stages[0].handoff_cycles, 12u);
}

TEST(Planner, PrefillBytesByHand) {
  // P = 2, prompt 6: sequence block 3, hidden 4, q 4, kv 2, FFN 6, vocab 8.
  // Weights: W_q 32 + W_k, W_v 2*16 + W_o 32 + gate, up 2*48 + down 48 + norms 32 = 272. K/V per layer 2 * 3*2*2 = 24.
  // MeshGEMMs as llama_prefill runs them (m = 6; B rows of fmac_pitch(nb, 2) + kBankSpare, C rows of
  // fmac_pitch(nb, 4)): Q|K|V (k 8, n 16) 48 + 132 + 96 = 276; W_o (8, 8) 48 + 68 + 48 = 164; gate|up (8, 24)
  // 48 + 196 + 144 = 388; down (12, 8) 72 + 100 + 48 = 220. Largest 388 + residual 3*4*4 = 48 + one head's scores
  // 3*3*4 = 36: working set 472. lm_head 112.
  // A region holds 2 layers (2*296 + 472 = 1064; 3 need 1360 > 1200): three regions, [2, 2, 1 + lm_head (880)].
  const Plan p = plan_prefill(tiny(), "tiny", 2, 2, 6, small_arch(6, 2));
  EXPECT_EQ(p.layer_weight_bytes_per_pe, 272u);
  EXPECT_EQ(p.kv_bytes_per_layer_per_pe, 24u);
  EXPECT_EQ(p.working_bytes_per_pe, 472u);
  ASSERT_EQ(p.stages.size(), 3u);
  EXPECT_EQ(p.stages[0].layers, 2);
  EXPECT_EQ(p.stages[0].sram_bytes_per_pe, 1064u);
  EXPECT_EQ(p.stages[1].layers, 2);
  EXPECT_EQ(p.stages[1].sram_bytes_per_pe, 1064u);
  EXPECT_EQ(p.stages[2].layers, 1);
  EXPECT_TRUE(p.stages[2].lm_head);
  EXPECT_EQ(p.stages[2].sram_bytes_per_pe, 880u);
  EXPECT_EQ(p.sram_bytes_per_pe_max, 1064u);
  EXPECT_EQ(p.to_json()["prompt_len"], 6);
}

TEST(Planner, ErrorsNameTheModelTheBytesAndTheFabric) {
  // One 2x2 region: the model needs 4 PEs x (5*272 + 224 + (5*8 + 12) + 112) = 6992 bytes, the region holds 4800.
  const std::string fit = error_of([] { plan_decode(tiny(), "tiny", 2, 2, small_arch(2, 2)); });
  for (const char* part : {"tiny does not fit the wse2 fabric (2x2 PEs)", "needs 6992 bytes", "hold 4800", "1200 bytes per PE"})
    EXPECT_NE(fit.find(part), std::string::npos) << fit;
  EXPECT_THROW(plan_decode(tiny(), "tiny", 2, 2, small_arch(2, 2)), CapacityError);
  const std::string big = error_of([] { plan_decode(tiny(), "tiny", 5, 2, small_arch(4, 2)); });
  EXPECT_NE(big.find("--mesh 5x2 is larger than the wse2 fabric (4x2 PEs)"), std::string::npos) << big;
  EXPECT_THROW(plan_prefill(tiny(), "tiny", 4, 2, 6, small_arch(4, 2)), ConfigError);
}

TEST(Planner, TimingOnlyPlacesTheStagesBeyondAFabricThatHoldsFewerRegions) {
  // The model of DecodeStagesAndKvCapacityByHand on a 2x2 fabric (one region): the same two stages, the second
  // below the fabric (snake order continued), handed over H = 2 hops: ramp 2 + 2 * 2 + ramp 2 + block 4 = 12.
  EXPECT_THROW(plan_decode(tiny(), "tiny", 2, 2, small_arch(2, 2)), CapacityError);
  const Plan p = plan_decode(tiny(), "tiny", 2, 2, small_arch(2, 2), Regions::BeyondFabric);
  EXPECT_EQ(p.regions_available, 1);
  ASSERT_EQ(p.stages.size(), 2u);
  EXPECT_TRUE(p.beyond_fabric());
  EXPECT_EQ(p.stages[0].layers, 3);
  EXPECT_EQ(p.stages[1].layers, 2);
  EXPECT_EQ(p.stages[1].x0, 0);
  EXPECT_EQ(p.stages[1].y0, 2);
  EXPECT_EQ(p.stages[0].handoff_cycles, 12u);
  EXPECT_EQ(p.kv_slots_per_pe, 4u);
  const std::string note = p.fabric_note();
  EXPECT_NE(note.find("needs 2 regions of 2x2, the wse2 fabric (2x2 PEs) holds 1: the time assumes a fabric with 2"),
            std::string::npos) << note;
  EXPECT_NE(p.to_text().find(note), std::string::npos);
  EXPECT_EQ(p.to_json()["fabric_note"], note);
  // A plan that fits has no note.
  EXPECT_EQ(plan_decode(tiny(), "tiny", 2, 2, small_arch(4, 2), Regions::BeyondFabric).fabric_note(), "");
}

TEST(Planner, Llama3At360MatchesThePapersShiftOverConcatRatio) {
  const auto dir = models::resolve_model("llama3-8b", std::filesystem::path(WAFERSIM_SOURCE_DIR) / "configs/models");
  const Plan p = plan_decode(models::load_llama_config(dir / "config.json"), "llama3-8b", 360, 360, hw::ArchParams{});
  // The paper's rounding: dim 4096 -> 4320, FFN 14336 -> 14400 at 360; 4 regions of 360x360 on 757x996.
  EXPECT_EQ(p.hidden, 4320u);
  EXPECT_EQ(p.ffn, 14400u);
  EXPECT_EQ(p.regions_available, 4);
  EXPECT_EQ(p.stages.size(), 4u);
  EXPECT_GT(p.concat_max_tokens, 0u);
  EXPECT_EQ(p.shift_max_tokens, 360 * p.concat_max_tokens);
}

}  // namespace
}  // namespace wafersim::runtime
