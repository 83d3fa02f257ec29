// The per-PE decode layout: every q/k/v element has exactly one place, a query head meets its KV head's pair on
// the same column, the SRAM arithmetic adds up, and a model that does not fit names the model, mesh and limit.
#include <gtest/gtest.h>

#include <set>

#include "common/error.hpp"
#include "models/llama_config.hpp"
#include "runtime/decode_layout.hpp"

using namespace wafersim;

namespace {
models::LlamaConfig small_gqa() {
  models::LlamaConfig c;
  c.vocab_size = 300;
  c.hidden_size = 48;
  c.intermediate_size = 100;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 6;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  return c;
}
}  // namespace

TEST(DecodeLayout, EveryQkvElementHasOnePlaceAndGqaHeadsMeetTheirKvPairOnOneColumn) {
  const auto c = small_gqa();
  const auto l = runtime::decode_layout(c, "test", 3, 4, hw::ArchParams{});
  EXPECT_EQ(l.units.block, 3u);  // 2 kv heads * 4 pairs over 3 columns
  EXPECT_EQ(l.q_per_pe(), 3u * 2 * 3);
  std::set<std::pair<int, std::uint32_t>> q_seen, kv_seen;
  for (int h = 0; h < 6; ++h)
    for (int d = 0; d < 8; ++d) {
      const auto s = l.q_slot(h, d);
      ASSERT_LT(s.column, 3);
      ASSERT_LT(s.index, l.q_per_pe());
      EXPECT_TRUE(q_seen.insert({s.column, s.index}).second);
      EXPECT_EQ(l.q_head_of(s.column, s.index), h);
      const auto k = l.kv_slot(h / 3, d);
      EXPECT_EQ(k.column, s.column) << "head " << h << " dim " << d;
      // the rotate_half partner sits next to it
      const auto p = l.q_slot(h, (d + 4) % 8);
      EXPECT_EQ(p.column, s.column);
      EXPECT_EQ(p.index ^ 1u, s.index);
    }
  for (int g = 0; g < 2; ++g)
    for (int d = 0; d < 8; ++d) EXPECT_TRUE(kv_seen.insert({l.kv_slot(g, d).column, l.kv_slot(g, d).index}).second);
  // padding: column 2 holds units 6..8, of which 6 and 7 are real
  EXPECT_EQ(l.valid_units(2), 2u);
  EXPECT_EQ(l.q_head_of(2, 2 * 2 * 3), -1);
}

TEST(DecodeLayout, SramBytesAddUpAndKvSlotsFillTheRest) {
  const auto l = runtime::decode_layout(small_gqa(), "test", 3, 4, hw::ArchParams{});
  // E block 12, qkv 18 + 12 = 30, q 18, F block 34: W_qkv 12*30*2, W_o 18*12*2, gate|up 12*68*2, down 34*12*2, norms
  EXPECT_EQ(l.layer_weight_bytes_per_pe(), 720u + 432 + 1632 + 816 + 2 * 48);
  EXPECT_EQ(l.kv_bytes_per_token_per_pe(2), 2u * 2 * 12 + 6 * 6);
  const auto slots = l.max_kv_slots_per_pe(2, true);
  EXPECT_LE(l.sram_bytes_per_pe(2, slots, true), l.sram_limit);
  EXPECT_GT(l.sram_bytes_per_pe(2, slots + 1, true), l.sram_limit);
  EXPECT_EQ(l.sram_limit, 45056u);
}

TEST(DecodeLayout, Llama3_8bFitsAt360AndATooSmallMeshNamesModelMeshBytesAndLimit) {
  const auto c = models::load_llama_config(WAFERSIM_SOURCE_DIR "/configs/models/Meta-Llama-3-8B/config.json");
  const auto l = runtime::decode_layout(c, "llama3-8b", 360, 360, hw::ArchParams{});
  EXPECT_EQ(l.hidden.block, 12u);   // 4096 / 360
  EXPECT_EQ(l.units.block, 2u);     // 8 kv heads * 64 pairs / 360
  EXPECT_GT(l.max_kv_slots_per_pe(1, false), 0u);
  try {
    runtime::decode_layout(c, "llama3-8b", 20, 20, hw::ArchParams{});
    FAIL() << "expected CapacityError";
  } catch (const CapacityError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("llama3-8b"), std::string::npos) << m;
    EXPECT_NE(m.find("20x20"), std::string::npos) << m;
    EXPECT_NE(m.find("45056-byte limit"), std::string::npos) << m;
  }
  auto odd = small_gqa();
  odd.head_dim = 7;
  EXPECT_THROW(runtime::decode_layout(odd, "odd", 2, 2, hw::ArchParams{}), ConfigError);
}
