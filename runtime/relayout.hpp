// The prefill -> decode transition over the fabric (a model, not simulated): the prompt's K and V handed from the
// prefill PEs to the decode cache (kv_handover), and every weight matrix re-laid from the prefill layout (MeshGEMM's
// 2-D blocks on the P x P prefill regions) to the decode layout (runtime/decode_layout.hpp on the W x H decode
// regions) (weight_relayout). WaferLLM section 5.3: the reshuffle runs over the NoC at its aggregate bandwidth.
//
// One cost formula for both (FabricTransfer): every element that changes PE is one wavelet (fp16, one per wavelet
// as every kernel here sends them: simd_32 packing of two fp16 per wavelet is not modelled anywhere), routed X then
// Y (along its source row to the destination column, then along that column), all of them at once:
//   cycles = max(ceil(words_per_pe_max / router.ramp_width), link_words_max) + hops_max * router.hop_latency()
//            + 2 * router.ramp_latency                                                  (0 if nothing moves)
// words_per_pe_max: the most wavelets one PE sends or receives through its ramp; link_words_max: the most wavelets
// crossing one directed router-to-router link (one wavelet per link per cycle, the fabric's rate); hops_max: the
// longest path. Elements that stay on their PE cost nothing. This is the busiest resource's time plus one path's
// latency: a lower bound that assumes the sends are ordered so that no link or ramp idles while it has work (no
// router arbitration, no colour or queue limits, no stalls from credits); the transfers of different stages and
// layers share the fabric and are counted together, so stages whose paths use disjoint links move in parallel and
// those that share links add up on them.
// Not modelled: contention between the K/V hand-over and the weights' re-lay (each is timed alone, on an idle
// fabric; they would share links), the RMSNorm weights and the QKV bias (vectors: E or q + 2 kv elements per layer,
// re-laid from the prefill's columns to the decode rows, replicated along X), the embedding table (on the host).
#pragma once
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "firmware/kernels/kv_cache.hpp"
#include "hw/arch_params.hpp"
#include "models/llama_config.hpp"
#include "runtime/decode_layout.hpp"
#include "runtime/planner.hpp"

namespace wafersim::runtime {

struct TransferCost {
  std::uint64_t words_moved = 0;       // wavelets (fp16 elements) that change PE
  std::uint64_t words_per_pe_max = 0;  // the most one PE sends or receives
  std::uint64_t link_words_max = 0;    // the most crossing one directed link
  int hops_max = 0;                    // the longest path (Manhattan)
  std::uint64_t cycles = 0;            // the formula above
};

// The wavelets of one transfer on the PEs [x0, x0 + width) x [y0, y0 + height) of a fabric (origins may lie past
// the arch's fabric: the planner's Regions::BeyondFabric stages): per PE sent and received, per directed link the
// wavelets crossing it under X-then-Y routing. Each move is O(1) (difference arrays along rows and columns).
class FabricTransfer {
 public:
  FabricTransfer(int x0, int y0, int width, int height);
  // n wavelets from PE (sx, sy) to (dx, dy); nothing when they are the same PE. std::out_of_range off the box.
  void move(int sx, int sy, int dx, int dy, std::uint64_t n);
  TransferCost cost(const hw::ArchParams& arch) const;

  // Per PE and per link (after the moves; for tests). Directions: +X (x -> x+1), -X, +Y (y -> y+1), -Y; the link
  // leaving PE (x, y) in that direction.
  enum Dir { PlusX, MinusX, PlusY, MinusY };
  std::uint64_t sent(int x, int y) const;
  std::uint64_t received(int x, int y) const;
  std::uint64_t link(int x, int y, Dir d) const;
  int x0() const { return x0_; }
  int y0() const { return y0_; }
  int width() const { return w_; }
  int height() const { return h_; }

 private:
  // Per PE: the wavelets it sends and receives, and four difference arrays: a move adds n at the first link of its
  // X (row) and Y (column) segments and subtracts it past the last, so the prefix sums along a row (+X, -X) or a
  // column (+Y, -Y) give each link's load. A link is stored at the PE it leaves (+X, +Y) or enters (-X, -Y), so a
  // move touches three PEs only: its source, its corner (destination column, source row) and its destination.
  struct Cell {
    std::uint64_t sent = 0, received = 0, plus_x = 0, minus_x = 0, plus_y = 0, minus_y = 0;  // mod 2^64
  };
  std::size_t at(int x, int y) const;
  [[noreturn]] void outside(int x, int y) const;
  int x0_, y0_, w_, h_;
  std::uint64_t moved_ = 0;
  int hops_max_ = 0;
  std::vector<Cell> cells_;  // row-major, w_ x h_
};

// One axis of a weight matrix, in runs of consecutive elements with the same prefill block (`from`: the block of
// kernels::Split(n, P)) and the same decode row or column (`to`).
struct AxisRun {
  int from = 0, to = 0;
  std::uint64_t n = 0;
};
// The moves of one weight matrix B [K x N] of `layers` layers from the prefill to the decode layout. Prefill: a
// MeshGEMM's B on the P x P region at (px, py), pre-skewed as kernels::write_gemm_inputs writes it: block (bk, bn)
// on the PE at INTERLEAVE ring positions kx = bn, ky = (bk - bn) mod P. Decode: the region at (dx, dy); `k_on_rows`:
// K's runs give the decode row and N's the column (W_qkv, W_gate|W_up, lm_head: K = E along Y), else the reverse
// (W_o, W_down: K along X).
void add_matrix_moves(FabricTransfer& t, int P, int px, int py, int dx, int dy, const std::vector<AxisRun>& k,
                      const std::vector<AxisRun>& n, bool k_on_rows, std::uint64_t layers);

// The K/V hand-over of `tokens` prompt tokens of `layers` layers. Source: where the prefill's qkv and rope runs leave
// K and V, the fused [tokens x (q + 2 kv)] activation on the P x P prefill region at the decode region's origin
// (token t on row block t of Split(tokens, P), column c of the fused row on column block c of Split(q + 2 kv, P)).
// Destination: the decode cache as `tokens` appends leave it (shift: the rows' balanced fills, oldest at the top;
// concat: the bottom row), (KV head, dim) on DecodeLayout::kv_slot's column. On several decode stages the caller
// passes the stage with the most layers (the stages hand over in parallel on their own regions).
struct KvHandover : TransferCost {
  std::uint64_t tokens = 0;
};
KvHandover kv_handover(const DecodeLayout& layout, kernels::KvPolicy policy, int prefill_side, std::uint64_t tokens,
                       int layers, const hw::ArchParams& arch);

// The weights' re-lay: for every layer, W_q|W_k|W_v (prefill: the qkv MeshGEMM's B [E x (q + 2 kv)]), W_o (B
// [q x E]), W_gate|W_up (B [E x 2F]) and W_down (B [F x E]), from the prefill stage holding the layer (P x P at its
// origin) to the decode stage holding it (the decode layout at its origin); lm_head (B [E x vocab]) from the last
// prefill stage to the last decode stage. `prefill_stages` and `decode_stages` (the planner's Plan::stages) must
// hold the same layers, 0 to decode.config.num_hidden_layers - 1 (ConfigError otherwise, naming both).
struct WeightRelayout : TransferCost {
  std::uint64_t elements = 0;  // weight elements considered (moved or not)
  int layers = 0;
};
FabricTransfer weight_transfer(int prefill_side, const std::vector<Stage>& prefill_stages, const DecodeLayout& decode,
                               const std::vector<Stage>& decode_stages, std::uint64_t* elements = nullptr);
WeightRelayout weight_relayout(int prefill_side, const std::vector<Stage>& prefill_stages, const DecodeLayout& decode,
                               const std::vector<Stage>& decode_stages, const hw::ArchParams& arch);
// One stage holding every layer and lm_head at (0, 0): a single region's stages (WaferBackend).
std::vector<Stage> single_stage(int layers);
// generate's JSON: prefill_handover {tokens, words_per_pe_max, words_moved, link_words_max, hops_max} and
// prefill_weight_relayout {elements, words_moved, words_per_pe_max, link_words_max, hops_max}.
nlohmann::json to_json(const KvHandover& h);
nlohmann::json to_json(const WeightRelayout& r);

}  // namespace wafersim::runtime
