// The prefill -> decode transition's transfer model (runtime/relayout.hpp):
// - FabricTransfer's per-PE and per-link counts and its cycles formula on hand-computed moves (a link-bound and a
//   ramp-bound case);
// - one matrix B [4 x 4] from a 4x4 prefill region (MeshGEMM's pre-skewed 1x1 blocks on the INTERLEAVE ring 0,2,3,1)
//   to a 2x2 decode grid, every element's path worked out by hand;
// - weight_relayout on a generated 3-layer model over two prefill and two decode stages against a brute-force count:
//   every element of every matrix placed by the kernels themselves (the prefill PE read back from the B blocks
//   kernels::write_gemm_inputs writes; the decode PE from DecodeLayout's slots and splits), its X-then-Y path walked
//   link by link;
// - at paper scale (LLaMA3-8B, the planner's 480x480 prefill stages for a 4,096-token prompt and 540x540 decode
//   stages) the counts and the cycles formula (the host time, ~0.3 s, is printed only).
#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <tuple>

#include "common/error.hpp"
#include "fabric/fabric.hpp"
#include "firmware/kernels/meshgemm.hpp"
#include "hw/arch_params.hpp"
#include "models/llama_config.hpp"
#include "runtime/relayout.hpp"
#include "sc_tests/runtime/small_llama.hpp"

using namespace wafersim;
using runtime::FabricTransfer;

namespace {

std::uint64_t hop(const hw::ArchParams& a) { return std::uint64_t(a.router.hop_latency()); }
std::uint64_t ramps(const hw::ArchParams& a) { return 2 * std::uint64_t(a.router.ramp_latency); }

// Two streams of 5 along one row, overlapping on the link 1 -> 2: the link carries 10, each PE sends or receives 5.
TEST(Relayout, TransferIsLinkBoundWhenPathsShareALink) {
  const hw::ArchParams arch;
  FabricTransfer t(0, 0, 4, 1);
  t.move(0, 0, 2, 0, 5);
  t.move(1, 0, 3, 0, 5);
  t.move(3, 0, 3, 0, 7);  // stays: nothing
  EXPECT_EQ(t.link(0, 0, FabricTransfer::PlusX), 5u);
  EXPECT_EQ(t.link(1, 0, FabricTransfer::PlusX), 10u);
  EXPECT_EQ(t.link(2, 0, FabricTransfer::PlusX), 5u);
  EXPECT_EQ(t.link(2, 0, FabricTransfer::MinusX), 0u);
  const runtime::TransferCost c = t.cost(arch);
  EXPECT_EQ(c.words_moved, 10u);
  EXPECT_EQ(c.words_per_pe_max, 5u);
  EXPECT_EQ(c.link_words_max, 10u);
  EXPECT_EQ(c.hops_max, 2);
  EXPECT_EQ(c.cycles, 10u + 2 * hop(arch) + ramps(arch));
  EXPECT_EQ(c.cycles, 18u);  // defaults: hop 2, ramp 2
}

// Three PEs of a 3x3 box (at (10, 20)) send 4 each to the corner (10, 20): 12 through its ramp, at most 8 per link.
// Under X then Y, (12, 22) goes west along row 22 and north up column 10; (11, 20) west; (10, 22) north.
TEST(Relayout, TransferIsRampBoundWhenOnePeReceivesMost) {
  hw::ArchParams arch;
  arch.router.ramp_width = 2;
  FabricTransfer t(10, 20, 3, 3);
  t.move(12, 22, 10, 20, 4);
  t.move(11, 20, 10, 20, 4);
  t.move(10, 22, 10, 20, 4);
  EXPECT_EQ(t.link(12, 22, FabricTransfer::MinusX), 4u);
  EXPECT_EQ(t.link(11, 22, FabricTransfer::MinusX), 4u);
  EXPECT_EQ(t.link(10, 22, FabricTransfer::MinusY), 8u);
  EXPECT_EQ(t.link(10, 21, FabricTransfer::MinusY), 8u);
  EXPECT_EQ(t.link(11, 20, FabricTransfer::MinusX), 4u);
  EXPECT_EQ(t.received(10, 20), 12u);
  const runtime::TransferCost c = t.cost(arch);
  EXPECT_EQ(c.words_per_pe_max, 12u);
  EXPECT_EQ(c.link_words_max, 8u);
  EXPECT_EQ(c.hops_max, 4);
  EXPECT_EQ(c.cycles, std::max<std::uint64_t>(12 / 2, 8) + 4 * hop(arch) + ramps(arch));
  EXPECT_THROW(t.move(9, 20, 10, 20, 1), std::out_of_range);
  EXPECT_EQ(FabricTransfer(0, 0, 2, 2).cost(arch).cycles, 0u);  // nothing moves
}

// B [4 x 4] on a 4x4 prefill region, one element per block; the ring is 0,2,3,1, so block (bk, bn) sits on
// x = ring[bn], y = ring[(bk - bn) mod 4]. The decode grid 2x2 at the same origin holds element (k, n) on column
// n / 2, row k / 2. By hand: 3 elements stay ((0,0), (3,0), (2,3)), 13 move; PE (1,0) receives 4 (from (3,3),
// (3,1), (1,2), (1,3)); the busiest links are the -Y links (0,2)->(0,1) (from (2,2), (2,3), (0,2), (0,3)),
// (1,2)->(1,1) and (1,1)->(1,0) with 4 each; the longest path (3,3) -> (1,0) is 5 hops.
TEST(Relayout, OneMatrixFrom4x4To2x2ByHand) {
  const hw::ArchParams arch;
  std::vector<runtime::AxisRun> k, n;
  for (int i = 0; i < 4; ++i) {
    k.push_back({i, i / 2, 1});
    n.push_back({i, i / 2, 1});
  }
  FabricTransfer t(0, 0, 4, 4);
  runtime::add_matrix_moves(t, 4, 0, 0, 0, 0, k, n, true, 1);
  const runtime::TransferCost c = t.cost(arch);
  EXPECT_EQ(c.words_moved, 13u);
  EXPECT_EQ(c.words_per_pe_max, 4u);
  EXPECT_EQ(t.received(1, 0), 4u);
  EXPECT_EQ(t.received(0, 0), 3u);
  EXPECT_EQ(t.link(0, 2, FabricTransfer::MinusY), 4u);
  EXPECT_EQ(t.link(1, 1, FabricTransfer::MinusY), 4u);
  EXPECT_EQ(t.link(1, 0, FabricTransfer::PlusY), 2u);  // (3,0) and (1,0) go down to (1,1)
  EXPECT_EQ(t.link(2, 0, FabricTransfer::MinusX), 2u);  // (2,0) and (3,0) along row 0
  EXPECT_EQ(c.link_words_max, 4u);
  EXPECT_EQ(c.hops_max, 5);
  EXPECT_EQ(c.cycles, 4u + 5 * hop(arch) + ramps(arch));
  EXPECT_EQ(c.cycles, 18u);
  // Two layers: every count doubles, the latency part does not.
  FabricTransfer t2(0, 0, 4, 4);
  runtime::add_matrix_moves(t2, 4, 0, 0, 0, 0, k, n, true, 2);
  EXPECT_EQ(t2.cost(arch).cycles, 8u + 5 * hop(arch) + ramps(arch));
}

// Where kernels::write_gemm_inputs puts element (k, n) of B [K x N] on a P x P region: written twice, once with
// value k + 1 and once n + 1 (exact in fp16 below 2048), and read back from every PE's "b" block.
std::map<std::pair<int, int>, std::pair<int, int>> meshgemm_b_pes(int P, std::uint32_t K, std::uint32_t N) {
  const hw::ArchParams arch;
  fabric::Fabric f(arch, P, P, fabric::DataMode::Functional);
  kernels::GemmLayout g = kernels::meshgemm({.P = P, .m = std::uint32_t(P), .k = K, .n = N}, arch);
  g.layout->load(f);
  const std::uint32_t kb = g.sk.block, nb = g.sn.block, ld = kernels::fmac_pitch(nb, 2);
  std::vector<std::vector<float>> reads[2];
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<float> b(std::size_t(K) * N);
    for (std::uint32_t i = 0; i < K; ++i)
      for (std::uint32_t j = 0; j < N; ++j) b[std::size_t(i) * N + j] = float(pass == 0 ? i + 1 : j + 1);
    kernels::write_gemm_inputs(*g.layout, g, std::vector<float>(std::size_t(P) * K, 0.0f), b);
    for (int y = 0; y < P; ++y)
      for (int x = 0; x < P; ++x) {
        std::vector<float> v;
        for (const csl::f16 h : g.layout->read_symbol<csl::f16>(x, y, "b")) v.push_back(h.to_float());
        reads[pass].push_back(std::move(v));
      }
  }
  std::map<std::pair<int, int>, std::pair<int, int>> at;
  for (int y = 0; y < P; ++y)
    for (int x = 0; x < P; ++x)
      for (std::uint32_t i = 0; i < kb; ++i)
        for (std::uint32_t j = 0; j < nb; ++j) {
          const std::size_t pe = std::size_t(y) * P + std::size_t(x), e = std::size_t(i) * ld + j;
          const int kk = int(reads[0][pe][e]) - 1, nn = int(reads[1][pe][e]) - 1;
          if (kk >= 0 && nn >= 0) at[{kk, nn}] = {x, y};
        }
  EXPECT_EQ(at.size(), std::size_t(K) * N);
  return at;
}

// The brute force: per element, its path X then Y, link by link.
struct Brute {
  std::map<std::pair<int, int>, std::uint64_t> sent, received;
  std::map<std::tuple<int, int, int>, std::uint64_t> links;  // (x, y, FabricTransfer::Dir)
  std::uint64_t moved = 0;
  int hops = 0;
  void move(std::pair<int, int> s, std::pair<int, int> d) {
    if (s == d) return;
    ++moved;
    ++sent[s];
    ++received[d];
    hops = std::max(hops, std::abs(s.first - d.first) + std::abs(s.second - d.second));
    auto [x, y] = s;
    while (x != d.first) {
      const int step = d.first > x ? 1 : -1;
      ++links[{x, y, step > 0 ? FabricTransfer::PlusX : FabricTransfer::MinusX}];
      x += step;
    }
    while (y != d.second) {
      const int step = d.second > y ? 1 : -1;
      ++links[{x, y, step > 0 ? FabricTransfer::PlusY : FabricTransfer::MinusY}];
      y += step;
    }
  }
};

runtime::Stage stage(int first, int layers, bool lm, int x0, int y0) {
  runtime::Stage s;
  s.first_layer = first;
  s.layers = layers;
  s.lm_head = lm;
  s.x0 = x0;
  s.y0 = y0;
  return s;
}

TEST(Relayout, WeightRelayoutMatchesAnElementByElementCount) {
  models::LlamaConfig cfg = test::config(4, 2, false, false, 64);  // E 64, 4 / 2 heads of 16, F 72, vocab 200
  cfg.num_hidden_layers = 3;
  const hw::ArchParams arch;
  const int P = 4, W = 5, H = 6;
  const runtime::DecodeLayout l = runtime::decode_layout(cfg, "generated", W, H, arch);
  // Prefill: layers 0-1 at (0, 0), layer 2 and lm_head at (0, 4). Decode: layer 0 at (0, 0), 1-2 and lm_head at
  // (5, 0): layer 1 moves between regions, layer 0 partly stays put.
  const std::vector<runtime::Stage> ps{stage(0, 2, false, 0, 0), stage(2, 1, true, 0, 4)},
      ds{stage(0, 1, false, 0, 0), stage(1, 2, true, W, 0)};
  std::uint64_t elements = 0;
  const FabricTransfer fast = runtime::weight_transfer(P, ps, l, ds, &elements);
  const runtime::WeightRelayout r = runtime::weight_relayout(P, ps, l, ds, arch);

  const int E = int(cfg.hidden_size), F = int(cfg.intermediate_size), q = int(cfg.q_dim()), kv = int(cfg.kv_dim()),
            hd = int(cfg.head_dim), V = int(cfg.vocab_size);
  const auto qkv_at = meshgemm_b_pes(P, E, q + 2 * kv), wo_at = meshgemm_b_pes(P, q, E),
             gu_at = meshgemm_b_pes(P, E, 2 * F), down_at = meshgemm_b_pes(P, F, E), lm_at = meshgemm_b_pes(P, E, V);
  const auto q_col = [&](int i) { return l.q_slot(i / hd, i % hd).column; };
  const auto kv_col = [&](int i) { return l.kv_slot(i / hd, i % hd).column; };
  const auto row = [&](int e) { return int(e / l.hidden.block); };
  Brute b;
  std::uint64_t count = 0;
  const auto go = [&](const runtime::Stage& p, const runtime::Stage& d, std::pair<int, int> src, int col, int r) {
    b.move({p.x0 + src.first, p.y0 + src.second}, {d.x0 + col, d.y0 + r});
    ++count;
  };
  for (int layer = 0; layer < 3; ++layer) {
    const runtime::Stage& p = ps[layer < 2 ? 0 : 1];
    const runtime::Stage& d = ds[layer < 1 ? 0 : 1];
    for (int e = 0; e < E; ++e) {
      for (int i = 0; i < q; ++i) go(p, d, qkv_at.at({e, i}), q_col(i), row(e));               // W_q [q, E]
      for (int i = 0; i < kv; ++i) go(p, d, qkv_at.at({e, q + i}), kv_col(i), row(e));        // W_k
      for (int i = 0; i < kv; ++i) go(p, d, qkv_at.at({e, q + kv + i}), kv_col(i), row(e));   // W_v
      for (int i = 0; i < q; ++i) go(p, d, wo_at.at({i, e}), q_col(i), row(e));                // W_o [E, q]
      for (int f = 0; f < F; ++f) {
        const int col = int(f / l.ffn.block);
        go(p, d, gu_at.at({e, f}), col, row(e));                                                // W_gate [F, E]
        go(p, d, gu_at.at({e, F + f}), col, row(e));                                            // W_up
        go(p, d, down_at.at({f, e}), col, row(e));                                              // W_down [E, F]
      }
    }
  }
  for (int e = 0; e < E; ++e)
    for (int v = 0; v < V; ++v) go(ps[1], ds[1], lm_at.at({e, v}), int(v / l.vocab.block), row(e));

  EXPECT_EQ(elements, count);
  EXPECT_EQ(r.elements, count);
  EXPECT_EQ(r.words_moved, b.moved);
  EXPECT_EQ(r.hops_max, b.hops);
  ASSERT_EQ(fast.x0(), 0);
  ASSERT_EQ(fast.y0(), 0);
  ASSERT_EQ(fast.width(), 2 * W);
  ASSERT_EQ(fast.height(), P + P);  // the prefill stages reach y = 8, the decode ones y = 6
  std::uint64_t pe_max = 0, link_max = 0;
  int mismatches = 0;
  for (int y = 0; y < fast.height(); ++y)
    for (int x = 0; x < fast.width(); ++x) {
      const auto s = b.sent.count({x, y}) ? b.sent.at({x, y}) : 0, rc = b.received.count({x, y}) ? b.received.at({x, y}) : 0;
      mismatches += fast.sent(x, y) != s || fast.received(x, y) != rc;
      pe_max = std::max({pe_max, s, rc});
      for (const auto dir : {FabricTransfer::PlusX, FabricTransfer::MinusX, FabricTransfer::PlusY, FabricTransfer::MinusY}) {
        const auto it = b.links.find({x, y, dir});
        const std::uint64_t want = it == b.links.end() ? 0 : it->second;
        mismatches += fast.link(x, y, dir) != want;
        link_max = std::max(link_max, want);
      }
    }
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(r.words_per_pe_max, pe_max);
  EXPECT_EQ(r.link_words_max, link_max);
  EXPECT_EQ(r.cycles, std::max(pe_max / std::uint64_t(arch.router.ramp_width), link_max) +
                          std::uint64_t(b.hops) * hop(arch) + ramps(arch));
  std::cout << "generated 3 layers, P = 4 -> 5x6, two stages each: " << count << " elements, " << b.moved
            << " move, busiest PE " << pe_max << ", busiest link " << link_max << ", " << b.hops << " hops, "
            << r.cycles << " cycles\n";
}

// Same stages and layout for both phases (P = W = H): the blocks differ (MeshGEMM's skew, the decode's pair units),
// but an element already on its decode PE does not move; a 1x1 region moves nothing.
TEST(Relayout, ElementsThatStayPutCostNothing) {
  const hw::ArchParams arch;
  const models::LlamaConfig cfg = test::config(4, 2);
  const runtime::DecodeLayout one = runtime::decode_layout(cfg, "generated", 1, 1, arch);
  const auto all = runtime::single_stage(int(cfg.num_hidden_layers));
  const runtime::WeightRelayout r1 = runtime::weight_relayout(1, all, one, all, arch);
  EXPECT_GT(r1.elements, 0u);
  EXPECT_EQ(r1.words_moved, 0u);
  EXPECT_EQ(r1.cycles, 0u);
  const runtime::DecodeLayout l = runtime::decode_layout(cfg, "generated", 3, 3, arch);
  const runtime::WeightRelayout r = runtime::weight_relayout(3, all, l, all, arch);
  EXPECT_GT(r.words_moved, 0u);
  EXPECT_LT(r.words_moved, r.elements);
}

TEST(Relayout, StagesMustHoldTheSameLayers) {
  const hw::ArchParams arch;
  const models::LlamaConfig cfg = test::config(4, 2);  // 2 layers
  const runtime::DecodeLayout l = runtime::decode_layout(cfg, "generated", 3, 3, arch);
  const std::vector<runtime::Stage> subset{stage(0, 1, true, 0, 0)};
  try {
    runtime::weight_relayout(3, subset, l, runtime::single_stage(2), arch);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("prefill stages (layers 0..0"), std::string::npos) << m;
    EXPECT_NE(m.find("must each hold layers 0..1"), std::string::npos) << m;
  }
}

// LLaMA3-8B: the reproduction's end-to-end configurations (docs/reproduction.md): prompts of 4,096 and 2,048 tokens
// prefilled on the planner's 480x480 stages, decode on 540x540 stages (BeyondFabric, as generate --timing-only
// places them), WSE-2 preset; the K/V hand-over as generate computes it (the decode stage with the most layers).
// The host CPU time is printed, not asserted (speed figures live in docs/performance.md, not in unit tests).
void paper_scale(std::uint32_t prompt, double prefill_cycles) {
  const std::filesystem::path src(WAFERSIM_SOURCE_DIR);
  const hw::ArchParams arch = hw::load_arch(src / "configs/wse2.yaml");
  const auto cfg = models::load_llama_config(src / "configs/models/Meta-Llama-3-8B/config.json");
  const std::clock_t start = std::clock();
  const runtime::Plan pre = runtime::plan_prefill(cfg, "llama3-8b", 480, 480, prompt, arch);
  const runtime::Plan dec = runtime::plan_decode(cfg, "llama3-8b", 540, 540, arch, runtime::Regions::BeyondFabric);
  const runtime::DecodeLayout l = runtime::decode_layout(cfg, "llama3-8b", 540, 540, arch);
  const runtime::WeightRelayout r = runtime::weight_relayout(480, pre.stages, l, dec.stages, arch);
  const double seconds = double(std::clock() - start) / CLOCKS_PER_SEC;
  int stage_layers = 0;
  for (const runtime::Stage& st : dec.stages) stage_layers = std::max(stage_layers, st.layers);
  const runtime::KvHandover h = runtime::kv_handover(l, kernels::KvPolicy::Shift, 480, prompt, stage_layers, arch);
  // 32 layers of 218,103,808 weight elements and lm_head's 4,096 x 128,256; almost all change PE.
  EXPECT_EQ(r.elements, 32ull * 218103808ull + 4096ull * 128256ull);
  EXPECT_GT(r.words_moved, r.elements / 2);
  EXPECT_GE(r.words_per_pe_max, r.words_moved / (2ull * 540 * 540 + 2ull * 480 * 480));  // at least the average
  // X then Y concentrates a decode column's weights on that column's links: link-bound.
  EXPECT_GT(r.link_words_max, r.words_per_pe_max);
  EXPECT_EQ(r.cycles, std::max(r.words_per_pe_max / std::uint64_t(arch.router.ramp_width), r.link_words_max) +
                          std::uint64_t(r.hops_max) * std::uint64_t(arch.router.hop_latency()) +
                          2u * std::uint64_t(arch.router.ramp_latency));
  EXPECT_LT(double(r.cycles), 0.01 * prefill_cycles);
  std::cout << "LLaMA3-8B " << prompt << " tokens, weights 480x480 prefill (" << pre.stages.size()
            << " stages) -> 540x540 decode (" << dec.stages.size() << " stages): " << r.elements << " elements, "
            << r.words_moved << " move, busiest PE " << r.words_per_pe_max << ", busiest link " << r.link_words_max
            << ", " << r.hops_max << " hops: " << r.cycles << " cycles = " << arch.cycles_to_us(double(r.cycles))
            << " us = " << 100.0 * double(r.cycles) / prefill_cycles << "% of the prefill; host CPU " << seconds
            << " s\n"
            << "K/V hand-over (" << prompt << " tokens, " << stage_layers << " layers): " << h.words_moved
            << " wavelets, busiest PE " << h.words_per_pe_max << ", busiest link " << h.link_words_max << ", "
            << h.hops_max << " hops: " << h.cycles << " cycles\n";
}
// The prefill cycles: docs/reproduction.md, "End to end, LLaMA3-8B".
TEST(Relayout, PaperScaleLlama3Prompt4096) { paper_scale(4096, 1868539305.0); }
TEST(Relayout, PaperScaleLlama3Prompt2048) { paper_scale(2048, 1599748805.0); }

}  // namespace
