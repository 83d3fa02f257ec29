// The prompt through the wafer's prefill (kernels::llama_prefill_layer on the P x P prefill region, P = min(W, H)),
// its K and V handed to the decode region's cache, the last prompt token a decode step (runtime/wafer_backend.hpp):
// - greedy tokens equal the fp32 CPU reference's for 32 new tokens after prompts of 1, 2, 7, 20 and 64 tokens
//   (several seeds, GQA and MHA, LLaMA-3 RoPE scaling, Qwen2 bias, square and non-square meshes, shift and concat);
// - the cache after the prefill holds the CPU's K and V of every prompt position where L appends put them (each
//   row's fill and order, oldest first);
// - the hand-over's cycles follow kv_handover's formula (a hand-computed case, and the busiest PE and the longest
//   path counted element by element from the cache the hand-over left);
// - prefill_sram_bytes_per_pe equals the runs' measured SRAM; --mesh auto picks a region whose prefill holds the
//   prompt, an explicit --mesh that does not is a CapacityError.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "models/cpu_ops.hpp"
#include "runtime/decode_layout.hpp"
#include "sc_tests/cli_run.hpp"
#include "sc_tests/runtime/cpu_prefill.hpp"
#include "sc_tests/runtime/small_llama.hpp"

using namespace wafersim;
using test::config;
using test::expect_same_tokens;

namespace {

// A prompt of n tokens: BOS, then tokens below BOS / EOS.
std::vector<int32_t> prompt(int n, int salt) {
  std::vector<int32_t> p{198};
  for (int t = 1; t < n; ++t) p.push_back(int32_t((t * 37 + salt * 11) % 197));
  return p;
}

// The fp32 CPU reference's K (after RoPE) and V of every prompt position, per layer ([L x kv_dim] each).
void cpu_kv(const models::LlamaWeights& w, const std::vector<int32_t>& tokens, std::vector<std::vector<float>>& ks,
            std::vector<std::vector<float>>& vs) {
  const int64_t L = int64_t(tokens.size()), E = w.config.hidden_size;
  std::vector<float> x(std::size_t(L * E));
  for (int64_t t = 0; t < L; ++t) w.embed.row_to_f32(std::size_t(tokens[t]), std::size_t(E), &x[std::size_t(t * E)]);
  for (const auto& lw : w.layers) {
    test::CpuLayer r = test::cpu_prefill_layer(w.config, lw, x, L);
    x = std::move(r.out);
    ks.push_back(std::move(r.k));
    vs.push_back(std::move(r.v));
  }
}

// The cache after prefill(tokens) against the CPU's K and V: row y holds the fill L appends leave (shift: the bottom
// L mod H rows one more than L / H; concat: the bottom row all), its i-th oldest entry is position first(y) + i
// (rows contiguous top to bottom), every element within kTol of the CPU's at DecodeLayout::kv_slot.
void expect_cache_as_appends_leave(const models::LlamaConfig& cfg, std::uint64_t seed, int W, int H,
                                   kernels::KvPolicy policy, int L) {
  auto w = std::make_shared<models::LlamaWeights>(models::generate_llama_weights(cfg, seed));
  runtime::WaferBackend wafer(w, "generated", hw::ArchParams{}, {.width = W, .height = H, .kv_policy = policy});
  const std::vector<int32_t> tokens = prompt(L, int(seed));
  wafer.prefill(tokens);
  std::vector<std::vector<float>> ks, vs;
  cpu_kv(*w, tokens, ks, vs);
  const auto& l = wafer.layout();
  const int64_t kvd = cfg.kv_dim();
  // The wafer's fp16 K/V (rounded from the prefill's fp32 or the decode step's) against fp32; activations O(1).
  constexpr float kTol = 2e-2f;
  float worst = 0;
  const std::uint64_t q = std::uint64_t(L) / H, e = std::uint64_t(L) % H;
  for (int layer = 0; layer < int(cfg.num_hidden_layers); ++layer) {
    std::uint64_t first = 0;
    for (int y = 0; y < H; ++y) {
      const std::uint32_t fill = policy == kernels::KvPolicy::Concat ? (y == H - 1 ? std::uint32_t(L) : 0)
                                                                     : std::uint32_t(q + (std::uint64_t(y) >= H - e));
      for (int x = 0; x < W; ++x) {
        const auto& cache = kernels::decode_kv_cache(wafer.device().layout(), x, y);
        ASSERT_EQ(cache.count(layer), std::uint64_t(L));
        ASSERT_EQ(cache.fill(layer), fill) << "row " << y << " layer " << layer;
        ASSERT_EQ(cache.first_position(layer), first) << "row " << y;
        const auto kc = wafer.device().read<csl::f16>("kv.k", x, y), vc = wafer.device().read<csl::f16>("kv.v", x, y);
        for (std::uint32_t i = 0; i < fill; ++i)
          for (int64_t g = 0; g < cfg.num_key_value_heads; ++g)
            for (int64_t d = 0; d < cfg.head_dim; ++d) {
              const runtime::ColumnSlot s = l.kv_slot(int(g), int(d));
              if (s.column != x) continue;
              const std::size_t at = std::size_t((first + i) * kvd + g * cfg.head_dim + d);
              const std::uint32_t slot = cache.slot(layer, i);
              const float kw = kc[cache.k_index(layer, slot, s.index)].to_float(),
                          vw = vc[cache.v_index(layer, slot, s.index)].to_float();
              ASSERT_NEAR(kw, ks[layer][at], kTol) << "K layer " << layer << " position " << first + i << " dim " << d;
              ASSERT_NEAR(vw, vs[layer][at], kTol) << "V layer " << layer << " position " << first + i << " dim " << d;
              worst = std::max({worst, std::abs(kw - ks[layer][at]), std::abs(vw - vs[layer][at])});
            }
      }
      first += fill;
    }
    ASSERT_EQ(first, std::uint64_t(L));
  }
  std::cout << "max |K/V difference| " << worst << "\n";
}

}  // namespace

TEST(WaferPrefill, OneTokenPromptIsADecodeStep) {
  expect_same_tokens({config(4, 2), 5, 3, 3, prompt(1, 5)});
}
TEST(WaferPrefill, TwoTokenPromptMhaConcatNonSquare) {
  expect_same_tokens({config(4, 4), 6, 4, 2, prompt(2, 6), 0, kernels::KvPolicy::Concat});
}
TEST(WaferPrefill, SevenTokenPromptGqaLlama3RopeTall) {
  expect_same_tokens({config(8, 2, true, false, 64), 7, 2, 5, prompt(7, 7)});
}
TEST(WaferPrefill, TwentyTokenPromptQwenBiasConcat) {
  expect_same_tokens({config(4, 1, false, true), 8, 3, 2, prompt(20, 8), 0, kernels::KvPolicy::Concat});
}
TEST(WaferPrefill, SixtyFourTokenPromptGqaSquareShift) {
  expect_same_tokens({config(4, 2), 9, 4, 4, prompt(64, 9)});
}
TEST(WaferPrefill, SixtyFourTokenPromptMhaConcatNonSquare) {
  expect_same_tokens({config(4, 4), 14, 4, 3, prompt(64, 14), 0, kernels::KvPolicy::Concat});
}
TEST(WaferPrefill, SevenTokenPromptQwenBiasSquareShift) {
  expect_same_tokens({config(4, 1, false, true), 15, 3, 3, prompt(7, 15)});
}
// A shift cache of 18 slots on 3 rows: the 19 handed-over tokens fill 6 or 7 per row (rings from slot 0); the 33
// appends after them bring the rows to 17 or 18 of 18 slots, the shifts moving every ring's start.
TEST(WaferPrefill, TwentyTokenPromptThenAWrappingShiftCache) {
  expect_same_tokens({config(4, 2), 10, 3, 3, prompt(20, 10), 18});
}

TEST(WaferPrefill, CacheAfterTheHandOverIsWhatAppendsLeaveShift) {
  expect_cache_as_appends_leave(config(4, 2), 11, 3, 2, kernels::KvPolicy::Shift, 9);
}
TEST(WaferPrefill, CacheAfterTheHandOverIsWhatAppendsLeaveConcat) {
  expect_cache_as_appends_leave(config(8, 2, true, false, 64), 12, 2, 4, kernels::KvPolicy::Concat, 7);
}

// By hand: 4 query / 2 KV heads of head_dim 10 on a 2x1 region, so P = 1 and every K/V element starts on PE (0, 0);
// the decode region puts KV head 0 (pair units 0-4) on column 0 and head 1 on column 1. Per token and layer, head
// 1's 10 K and 10 V elements go one hop east: 3 tokens x 2 layers x 20 = 120 wavelets from (0, 0) to (1, 0).
TEST(WaferPrefill, HandOverCyclesFollowTheFormula) {
  const hw::ArchParams arch;
  const runtime::DecodeLayout l = runtime::decode_layout(config(4, 2), "generated", 2, 1, arch);
  ASSERT_EQ(runtime::prefill_side(l), 1);
  const runtime::KvHandover h = runtime::kv_handover(l, kernels::KvPolicy::Shift, 1, 3, 2, arch);
  EXPECT_EQ(h.words_moved, 120u);
  EXPECT_EQ(h.words_per_pe_max, 120u);
  EXPECT_EQ(h.link_words_max, 120u);  // all on the link (0, 0) -> (1, 0): ramp and link bounds agree
  EXPECT_EQ(h.hops_max, 1);
  EXPECT_EQ(h.cycles, 120u / std::uint64_t(arch.router.ramp_width) + std::uint64_t(arch.router.hop_latency()) +
                          2u * std::uint64_t(arch.router.ramp_latency));
  EXPECT_EQ(runtime::kv_handover(l, kernels::KvPolicy::Shift, 1, 0, 2, arch).cycles, 0u);
}

// The model's grouped counts against an element-by-element count: each K/V element of each handed-over position,
// from its prefill PE (row block of the position, column block of its fused QKV column) to the row holding the
// position and kv_slot's column.
TEST(WaferPrefill, HandOverCountsMatchTheCacheElementByElement) {
  const auto cfg = config(8, 2, true, false, 64);
  auto w = std::make_shared<models::LlamaWeights>(models::generate_llama_weights(cfg, 13));
  const int W = 3, H = 4;
  runtime::WaferBackend wafer(w, "generated", hw::ArchParams{}, {.width = W, .height = H});
  const int L = 12;
  wafer.prefill(prompt(L, 13));
  const auto& l = wafer.layout();
  const int P = runtime::prefill_side(l);
  const std::uint64_t n = L - 1;  // handed over; the last prompt token was appended by its decode step
  ASSERT_EQ(wafer.handover().tokens, n);
  // Rows of the positions after n appends (shift: the bottom n mod H rows hold one more than n / H, the rows
  // contiguous top to bottom; the CacheAfterTheHandOver tests check this rule against the cache modules).
  const runtime::KvHandover model = runtime::kv_handover(l, kernels::KvPolicy::Shift, P, n, int(cfg.num_hidden_layers),
                                                         hw::ArchParams{});
  std::vector<int> row_of(n);
  const std::uint64_t q = n / H, e = n % H;
  for (std::uint64_t t = 0, y = 0, used = 0; t < n; ++t) {
    while (used == q + (y >= H - e)) ++y, used = 0;
    row_of[t] = int(y);
    ++used;
  }
  const kernels::Split seq(std::uint32_t(n), P), fused(std::uint32_t(cfg.q_dim() + 2 * cfg.kv_dim()), P);
  std::map<std::pair<int, int>, std::uint64_t> sent, received;
  std::uint64_t moved = 0;
  int hops = 0;
  for (std::uint64_t t = 0; t < n; ++t)
    for (int64_t d = 0; d < cfg.kv_dim(); ++d)
      for (const int64_t at : {cfg.q_dim() + d, cfg.q_dim() + cfg.kv_dim() + d}) {
        const int xs = int(at / fused.block), ys = int(t / seq.block);
        const int xd = l.kv_slot(int(d / cfg.head_dim), int(d % cfg.head_dim)).column, yd = row_of[t];
        if (xs == xd && ys == yd) continue;
        moved += cfg.num_hidden_layers;
        sent[{xs, ys}] += cfg.num_hidden_layers;
        received[{xd, yd}] += cfg.num_hidden_layers;
        hops = std::max(hops, std::abs(xs - xd) + std::abs(ys - yd));
      }
  std::uint64_t busiest = 0;
  for (const auto& m : {sent, received})
    for (const auto& [pe, words] : m) busiest = std::max(busiest, words);
  EXPECT_EQ(model.words_moved, moved);
  EXPECT_EQ(model.words_per_pe_max, busiest);
  EXPECT_EQ(model.hops_max, hops);
  EXPECT_EQ(wafer.handover().cycles, model.cycles);
  // The weights' re-lay (runtime::weight_relayout on the one region, P x P inside W x H) is on the way too.
  const runtime::WeightRelayout relay = runtime::weight_relayout(
      P, runtime::single_stage(int(cfg.num_hidden_layers)), l, runtime::single_stage(int(cfg.num_hidden_layers)),
      hw::ArchParams{});
  EXPECT_GT(relay.cycles, 0u);
  EXPECT_EQ(wafer.relayout().cycles, relay.cycles);
  EXPECT_EQ(wafer.prefill_cycles(),
            wafer.prefill_run_cycles() + model.cycles + relay.cycles + wafer.prefill_step_cycles());
  std::cout << "hand-over of " << n << " tokens on " << W << "x" << H << " (P = " << P << "): " << moved
            << " wavelets, busiest PE " << busiest << ", " << hops << " hops, " << model.cycles << " cycles\n";
}

// `generate --device wafer` reports the prefill split: the runs (by kernel), the hand-over and the last prompt
// token's step add up to prefill_cycles.
class WaferPrefillCli : public test::CliTest {};
TEST_F(WaferPrefillCli, GenerateSplitsThePrefillCycles) {
  ASSERT_EQ(run("make-model --preset tiny --seed 3 --out " + (dir() / "tiny").string()).status, 0);
  const test::CliRun r = run("generate --model " + (dir() / "tiny").string() +
                             " --prompt-ids 510,300,301,302,303,304,305 --max-new-tokens 2 --mesh 4x3 --json " +
                             (dir() / "w.json").string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("K/V hand-over to the decode cache"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("token by token"), std::string::npos) << r.out;
  std::ifstream in(dir() / "w.json");
  const auto w = nlohmann::json::parse(in);
  EXPECT_EQ(w["prefill_mesh"], nlohmann::json({3, 3}));
  EXPECT_EQ(w["prefill_handover"]["tokens"], 6);
  const auto runs = w["prefill_run_cycles"].get<std::uint64_t>(),
             handover = w["prefill_handover_cycles"].get<std::uint64_t>(),
             relay = w["prefill_weight_relayout_cycles"].get<std::uint64_t>(),
             last = w["prefill_last_token_cycles"].get<std::uint64_t>();
  EXPECT_GT(runs, 0u);
  EXPECT_GT(handover, 0u);
  EXPECT_GT(relay, 0u);
  EXPECT_GT(last, 0u);
  EXPECT_EQ(w["prefill_cycles"].get<std::uint64_t>(), runs + handover + relay + last);
  EXPECT_GT(w["prefill_weight_relayout"]["words_moved"].get<std::uint64_t>(), 0u);
  EXPECT_NE(r.out.find("weights' re-lay to the decode layout"), std::string::npos) << r.out;
  std::uint64_t by_kernel = 0;
  for (const auto& [name, cycles] : w["prefill_cycles_by_kernel"].items()) by_kernel += cycles.get<std::uint64_t>();
  EXPECT_EQ(by_kernel, runs);
}

// The model is cheap at paper scale (runs of positions and of dims, not elements): LLaMA3-8B's 32 layers, a
// 4,096-token prompt handed from a 360x360 prefill region to the 360x360 decode region's shift cache. Every PE sends
// at most its share of the prefill's K/V and receives at most its rows' tokens' share.
TEST(WaferPrefill, HandOverModelAtPaperScale) {
  const hw::ArchParams arch;
  const auto cfg = models::load_llama_config(std::filesystem::path(WAFERSIM_SOURCE_DIR) /
                                             "configs/models/Meta-Llama-3-8B/config.json");
  const runtime::DecodeLayout l = runtime::decode_layout(cfg, "llama3-8b", 360, 360, arch);
  const std::uint64_t tokens = 4096;
  const runtime::KvHandover h = runtime::kv_handover(l, kernels::KvPolicy::Shift, 360, tokens, 32, arch);
  const std::uint64_t per_token = 2 * std::uint64_t(cfg.kv_dim()) * 32;  // K and V, all layers
  EXPECT_LE(h.words_moved, tokens * per_token);
  EXPECT_GE(h.words_moved, tokens * per_token / 2);  // most elements change PE
  // A prefill PE holds ceil(4096 / 360) = 12 tokens x (the fused block of 6,144 / 360 = 18 columns, at most all K/V).
  EXPECT_LE(h.words_per_pe_max, 12u * 18u * 32u);
  // Under X then Y a row's tokens move along that row from the fused K/V column blocks to the kv_slot columns: the
  // links carry far more than a ramp, and bound the time.
  EXPECT_GT(h.link_words_max, h.words_per_pe_max);
  EXPECT_EQ(h.cycles, std::max(h.words_per_pe_max / std::uint64_t(arch.router.ramp_width), h.link_words_max) +
                          std::uint64_t(h.hops_max) * std::uint64_t(arch.router.hop_latency()) +
                          2u * std::uint64_t(arch.router.ramp_latency));
  std::cout << "LLaMA3-8B, 4096 tokens, 360x360 -> 360x360 shift: " << h.words_moved << " wavelets, busiest PE "
            << h.words_per_pe_max << ", busiest link " << h.link_words_max << ", " << h.hops_max << " hops, "
            << h.cycles << " cycles\n";
}

// A prompt whose prefill runs need more SRAM per PE than the prefill region has (here the scores' [L x L] blocks of
// a 200-token prompt on 2x2) is a CapacityError naming the prefill region and the kernel, before any decode step.
TEST(WaferPrefill, APromptTooLongForThePrefillRegionIsACapacityError) {
  auto w = std::make_shared<models::LlamaWeights>(models::generate_llama_weights(config(4, 2), 16));
  runtime::WaferBackend wafer(w, "generated", hw::ArchParams{}, {.width = 2, .height = 2});
  ASSERT_GE(wafer.max_tokens(), 200u);
  try {
    wafer.prefill(prompt(200, 16));
    FAIL() << "expected CapacityError";
  } catch (const CapacityError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("prefill of 199 prompt tokens on the 2x2 prefill region"), std::string::npos) << m;
    EXPECT_NE(m.find("bytes of SRAM per PE"), std::string::npos) << m;
    std::cout << m << "\n";
  }
  EXPECT_EQ(wafer.sequence_length(), 0);
}

// runtime::prefill_sram_bytes_per_pe (--mesh auto's prefill test) is the largest run's SRAM the prefill measured.
void expect_prefill_sram_bound(int W, int H, int L, bool fp32) {
  auto w = std::make_shared<models::LlamaWeights>(models::generate_llama_weights(config(4, 2), 5));
  runtime::WaferBackend wafer(w, "generated", hw::ArchParams{}, {.width = W, .height = H, .fp32_accumulate = fp32});
  wafer.prefill(prompt(L, 5));
  EXPECT_EQ(runtime::prefill_sram_bytes_per_pe(wafer.layout(), std::uint32_t(L - 1), fp32),
            wafer.prefill_sram_bytes_per_pe_max());
}
TEST(WaferPrefill, PrefillSramBoundIsWhatTheRunsUseFp32) { expect_prefill_sram_bound(3, 3, 64, true); }
TEST(WaferPrefill, PrefillSramBoundIsWhatTheRunsUseFp16NonSquare) { expect_prefill_sram_bound(4, 2, 20, false); }

// --mesh auto picks the smallest square whose prefill region also runs the prompt's prefill: a 279-token prompt of the
// tiny model needs 5x5 (the KV cache alone fits 3x3, whose prefill's scores blocks do not); an explicit --mesh 3x3
// stays a CapacityError naming the prefill region and the kernel.
TEST_F(WaferPrefillCli, AutoMeshHoldsThePromptsPrefill) {
  const std::string model = (dir() / "tiny").string();
  ASSERT_EQ(run("make-model --preset tiny --seed 1 --out " + model).status, 0);
  std::string ids = "510";
  for (int t = 1; t < 279; ++t) ids += "," + std::to_string(300 + t % 200);
  const auto cfg = models::load_llama_config(dir() / "tiny" / "config.json");
  const hw::ArchParams arch;
  const auto fits = [&](int p) {
    const runtime::DecodeLayout l = runtime::decode_layout(cfg, "tiny", p, p, arch);
    return runtime::prefill_sram_bytes_per_pe(l, 278, true) <= l.sram_limit;
  };
  EXPECT_FALSE(fits(3));
  EXPECT_FALSE(fits(4));
  EXPECT_TRUE(fits(5));

  const test::CliRun fixed =
      run("generate --model " + model + " --prompt-ids " + ids + " --max-new-tokens 1 --mesh 3x3");
  EXPECT_EQ(fixed.status, 1) << fixed.out;
  EXPECT_NE(fixed.out.find("prefill of 278 prompt tokens on the 3x3 prefill region"), std::string::npos) << fixed.out;
  EXPECT_NE(fixed.out.find("dist_gemm_t"), std::string::npos) << fixed.out;

  const test::CliRun r = run("generate --model " + model + " --prompt-ids " + ids + " --max-new-tokens 1 --json " +
                             (dir() / "w.json").string());
  ASSERT_EQ(r.status, 0) << r.out;
  std::ifstream in(dir() / "w.json");
  const auto w = nlohmann::json::parse(in);
  EXPECT_EQ(w["mesh"], nlohmann::json({5, 5}));
  EXPECT_EQ(w["prefill_handover"]["tokens"], 278);
}
