// One LLaMA decode step on a W x H region, as one per-PE program (WaferLLM section 4.2, with real heads and GQA):
// every layer's weight blocks stay in each PE's SRAM and the new token runs through all of them, then the final
// RMSNorm and lm_head. The per-PE shapes come from runtime/decode_layout.hpp (DecodeLayout): the hidden vector is
// V_y (split along Y, replicated along X), q/k/v, the attention output and the FFN are V_x in the layout's pair units.
// Per layer, on every PE (allreduces are the collective modules, both WaferLLM's K-tree with staged joins: sum along
// X "rows"; sum along Y "cols", which also takes the softmax max, chosen per call):
//   RMSNorm    x*x summed locally, allreduce Y (1 element), x * rsqrt(mean + eps) * w            -> fp16 GEMV input
//   QKV        local GEMV over the W_qkv block [E_y rows x (q|k|v)_x], allreduce Y (+ bias)     -> q, k, v (V_x)
//   RoPE       cos/sin of position * inv_freq (per local pair unit), rotate each (dim i, dim i + half) pair
//   append     the KV cache module (kv_cache.hpp: shift or concatenation) stores the new K and V pairs: the shift
//              lets the new entry enter the bottom row, rows pass their oldest entries up to keep fills balanced
//   q.K^T      per query head, over the row's cached entries: partial dot products of the column's pairs, allreduce X
//   softmax    x 1/sqrt(head_dim), max per head allreduce Y, real exp, sum per head allreduce Y, x 1/sum; only
//              cached positions exist, so the causal mask holds by construction
//   score.V    per cached slot, per query head: its pairs += p * V pairs, allreduce Y                 -> attention out
//   W_O        local GEMV over the W_o block [q_x rows x E_y], allreduce X; residual
//   RMSNorm, up/gate (one fused GEMV [E_y x (gate|up)_x], allreduce Y), silu(gate) * up (real exp),
//   W_down     [F_x rows x E_y], allreduce X; residual.
// Then the final RMSNorm and lm_head [E_y x vocab_x] (allreduce Y): every PE of column c holds logits block c.
// Precision: weights, GEMV inputs, q and the KV cache are fp16; the residual stream, norms, RoPE and softmax are
// fp32. fp32 accumulation: GEMVs and attention dot products use fmachs (exact fp16 products, fp32 sums); fp16
// accumulation: fmach into an fp16 accumulator (rounded at every step), converted to fp32 before the allreduce, so
// the allreduces always carry fp32.
// Not modelled: the embedding lookup (the host writes x), sampling (host), simd packing (prefill is
// llama_prefill.hpp; runtime/wafer_backend hands its K/V to this program's cache),
// the cost of scalar code beyond the per-element charges of pe.scalar (exp, silu, reciprocal, cos/sin, rsqrt).
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "firmware/kernels/collective_module.hpp"
#include "firmware/kernels/kv_cache.hpp"

namespace wafersim::kernels {

// Per-PE sizes (DecodeLayout's blocks) and the model numbers the program needs.
struct DecodeShape {
  int width = 1, height = 1;
  std::uint32_t hidden = 1;      // hidden elements per PE (E block)
  std::uint32_t hidden_total = 1;  // E (the RMSNorm mean)
  std::uint32_t units = 1;       // pair units per column
  std::uint32_t group = 1;       // query heads per KV head
  std::uint32_t q_heads = 1;
  std::uint32_t ffn = 1;         // FFN elements per PE
  std::uint32_t vocab = 1;       // vocabulary elements per PE
  bool lm_head = true;           // the region holds the final RMSNorm and lm_head
  std::uint32_t layers = 1;
  std::uint32_t slots = 1;       // KV slots per PE (per layer)
  bool qkv_bias = false;
  float rms_eps = 1e-6f;
  float score_scale = 1.0f;      // 1 / sqrt(head_dim)
  bool fp32_accumulate = true;
  KvPolicy kv_policy = KvPolicy::Shift;
  std::vector<Color> colors{};   // colours the allreduces and the cache may use (empty: every routable non-I/O one)

  std::uint32_t q_per_pe() const { return units * 2 * group; }
  std::uint32_t kv_per_pe() const { return units * 2; }
  std::uint32_t qkv_per_pe() const { return q_per_pe() + 2 * kv_per_pe(); }
};

struct DecodeProgramLayout {
  DecodeShape shape;
  std::unique_ptr<csl::Layout> layout;  // function "decode"; symbols below
  PlanPtr rows, cols;                   // allreduce along X (sum), along Y (sum; the softmax max per call)
  KvPlanPtr kv;                         // the KV cache module's plan (firmware/kernels/kv_cache.hpp)
  int colors_per_pe_max = 0;
};

// Builds the program on every PE. unit_kv_head[c][j]: the KV head of local pair unit j of column c (-1: padding).
// Exported symbols (per layer l: "<name>.<l>"):
//   inputs   x (f32, hidden), position (u32), rope_freq (f32, units: inv_freq of each unit)
//   weights  Wqkv.l [hidden x qkv], bqkv.l [qkv] (qkv_bias), Wo.l [q x hidden], Wgu.l [hidden x 2 ffn],
//            Wd.l [ffn x hidden], norm_attn.l, norm_ffn.l [hidden] (f32); norm_f (f32), Wlm [hidden x vocab]
//   cache    kv.k, kv.v (f16; the KV cache module's arrays, indexed with its k_index / v_index / slot)
//   outputs  logits (f32, vocab); after a step also qkv (f32, after RoPE), score (f32 probabilities,
//            [q_heads][cached slots of the row]), out (f32 attention output), ffn (f32, silu(gate) * up first),
//            xn16 (the last RMSNorm's output), x (the residual stream)
// Throws ConfigError on a bad shape, CapacityError when the allreduces need more colours than a PE has.
DecodeProgramLayout llama_decode(const DecodeShape& shape, const std::vector<std::vector<int>>& unit_kv_head,
                                 const hw::ArchParams& arch);

// The KV cache module of PE (x, y) (fills, slots of the entries, indices into kv.k / kv.v).
const KvCacheModule& decode_kv_cache(const csl::Layout& layout, int x, int y);
// The same, writable: the host's hand-over of a prefill's K and V (KvCacheModule::preload) between steps.
KvCacheModule& decode_kv_cache(csl::Layout& layout, int x, int y);
// The cycles of PE (x, y)'s last step by phase, summed over the layers, in step order: rmsnorm, qkv, rope+append,
// q.k, softmax max, softmax exp+sum, score.v, w_o, up+gate, swiglu+down, residual, final rmsnorm, lm_head. A phase
// runs from its first operation to the start of the next one: its compute and the wait for its collective.
std::vector<std::pair<std::string, std::uint64_t>> decode_phase_cycles(const csl::Layout& layout, int x, int y);
// Timing-only runs: every PE's KV cache module as after `tokens` appends (KvCacheModule::preload without values).
void decode_preset_cache(csl::Layout& layout, std::uint64_t tokens);
// The cycle (the simulation's clock) at which the last PE finished layer 0 and layer 1 of the last step (its
// residual; 0 for a layer the program does not hold): the timing composition's steady-state layer.
std::array<std::uint64_t, 2> decode_layer_ends(const csl::Layout& layout);
// Whether every PE has finished the step it was launched for.
bool decode_finished(const csl::Layout& layout);

}  // namespace wafersim::kernels
