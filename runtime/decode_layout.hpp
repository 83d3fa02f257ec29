// The per-PE decode layout of a LLaMA model on a region of W columns (X) x H rows (Y) (WaferLLM section 4.2 with
// real heads and GQA): which block of every vector and weight each PE holds, and how many SRAM bytes that takes.
// It is the one place this arithmetic lives: the decode program sizes its arrays from it, the planner and the
// KV-capacity commands stack layers and count KV tokens with it.
//
// Vectors. A "V_y" vector is split along Y (kernels::Split over H rows, block r on row r) and replicated along X; a
// "V_x" vector is split along X (block c on column c) and replicated along Y.
//   - hidden (E = hidden_size): V_y. The residual stream, both RMSNorms, the GEMV inputs of QKV and up/gate, the
//     outputs of W_O and W_down and the input of lm_head.
//   - attention (q, k, v, the attention output): V_x in "pair units". Unit u = (kv head u / half, pair u % half),
//     half = head_dim / 2; a pair is the HF rotate_half pair (dim i, dim i + half), so RoPE is local. The
//     kv_heads * half units are split over the W columns (Split(kv_heads * half, W)); a column holds, for each of its
//     units, the pair of every query head of the unit's GQA group (group = q_heads / kv_heads) and the pair of K and
//     of V. So a query head meets its KV head's dims on the same column, nothing is replicated, and q.k^T, summed
//     over the pairs of a column and then allreduced along X, is exact: every column computes a partial score of
//     every query head (zero for heads it holds no pair of). The host permutes the rows of W_q/W_k/W_v (and the
//     columns of W_o) into this order; q.k is unchanged because q and k are permuted alike.
//     Column-local order: q[(j * group + m) * 2 + c], k[j * 2 + c], v[j * 2 + c] for local unit j, query head
//     m of the group, c = 0 (dim i) or 1 (dim i + half). Padding units (past kv_heads * half) are zero.
//   - FFN (F = intermediate_size): V_x, Split(F, W). Vocabulary (lm_head output): V_x, Split(vocab, W).
// Weights (fp16). A weight whose input is V_y has K along Y and N along X (the GEMV reduces along Y, gives V_x):
//   W_qkv [E_y, (q|k|v)_x], W_gate and W_up [E_y, F_x], lm_head [E_y, vocab_x]. A weight whose input is V_x has K
//   along X (reduces along X, gives V_y): W_o [q_x, E_y], W_down [F_x, E_y]. No transposes anywhere.
// KV cache. Sequence along Y (a cached token lives on one row; firmware/kernels/kv_cache.hpp, shift or
// concatenation, says which), its K and V pairs along X as above; K is stored transposed (dims x slots), V as slots
// x dims. Each cached slot also needs the fp32 score of every query head and its fp16 copy (the attention's working
// rows), shared by the layers.
// SRAM per PE (bytes, every array rounded up to 4 bytes): per layer the weights, both RMSNorm weights (fp32) and
// the QKV bias (fp32, Qwen2); once per program the activations (fp32 accumulators, fp16 GEMV inputs, softmax
// statistics, RoPE frequencies and cos/sin, the sum of squares, the position); per cached token per layer the K
// and V pairs; per cached slot the score rows; the final RMSNorm + lm_head + logits when the region holds them.
// The limit is pe.sram_bytes - pe.code_reserve_bytes (WSE-2: 49,152 - 4,096 = 45,056).
// Not modelled here: several regions (the planner's job), prefill's layout, a PE holding less than its block.
#pragma once
#include <cstdint>
#include <string>

#include "firmware/kernels/tiling.hpp"
#include "hw/arch_params.hpp"
#include "models/llama_config.hpp"

namespace wafersim::runtime {

// Where one element of q, k or v lives: the column and the index in that column's local block.
struct ColumnSlot {
  int column = 0;
  std::uint32_t index = 0;
};

struct DecodeLayout {
  std::string model;            // name in messages (e.g. "llama3-8b" or a directory)
  models::LlamaConfig config;
  int width = 1, height = 1;    // W columns (X) x H rows (Y)
  std::uint32_t sram_limit = 0; // pe.sram_bytes - pe.code_reserve_bytes

  kernels::Split hidden{1, 1};  // E over H rows
  kernels::Split units{1, 1};   // kv_heads * head_dim / 2 pair units over W columns
  kernels::Split ffn{1, 1};     // F over W columns
  kernels::Split vocab{1, 1};   // vocabulary over W columns
  std::uint32_t group = 1;      // query heads per KV head
  std::uint32_t half = 1;       // head_dim / 2

  // ---- per-PE element counts
  std::uint32_t hidden_per_pe() const { return hidden.block; }
  std::uint32_t q_per_pe() const { return units.block * 2 * group; }
  std::uint32_t kv_per_pe() const { return units.block * 2; }  // of K, and of V
  std::uint32_t qkv_per_pe() const { return q_per_pe() + 2 * kv_per_pe(); }
  std::uint32_t ffn_per_pe() const { return ffn.block; }
  std::uint32_t vocab_per_pe() const { return vocab.block; }
  std::uint32_t q_heads() const { return std::uint32_t(config.num_attention_heads); }
  // Units of column c that hold data (the rest is padding).
  std::uint32_t valid_units(int column) const { return units.valid(column); }

  // ---- element placement (the host's permutation of W_q, W_k, W_v rows and W_o columns)
  ColumnSlot q_slot(int head, int dim) const;     // query head, dim < head_dim
  ColumnSlot kv_slot(int kv_head, int dim) const;  // of K and of V
  // The query head of local q element `index` on `column`, or -1 for padding.
  int q_head_of(int column, std::uint32_t index) const;

  // Useful multiply-accumulates of one decode token whose attention reads `context` cached tokens (padding
  // excluded): every layer's projections and FFN, q.k and score.v over the context, and lm_head.
  std::uint64_t decode_macs(std::uint64_t context) const;

  // ---- SRAM bytes per PE
  std::uint64_t layer_weight_bytes_per_pe() const;     // one layer's weights, norms and bias
  std::uint64_t activation_bytes_per_pe() const;       // once per program, whatever the layer count
  // One cached token on the row that holds it: K and V pairs of `layers` layers + its score rows (shared; fp32 and
  // fp16 per query head; their total is rounded up to 4 bytes once, which sram_bytes_per_pe counts exactly).
  std::uint64_t kv_bytes_per_token_per_pe(int layers) const;
  std::uint64_t lm_head_bytes_per_pe() const;          // final RMSNorm weight, lm_head block, logits
  // Everything a PE of the region holds: `layers` layers, `kv_slots` cached tokens per PE, lm_head if asked.
  std::uint64_t sram_bytes_per_pe(int layers, std::uint32_t kv_slots, bool with_lm_head) const;
  // The most cached tokens per PE that fit beside `layers` layers (and lm_head); 0 if not even those fit.
  std::uint32_t max_kv_slots_per_pe(int layers, bool with_lm_head) const;
};

// The decode layout of `config` on a width x height region. Throws ConfigError on a bad mesh or model (odd
// head_dim, heads not divisible by KV heads) and CapacityError, naming the model, the mesh, the bytes and the
// limit, when one layer with its activations and one cached token does not fit a PE.
DecodeLayout decode_layout(const models::LlamaConfig& config, const std::string& model, int width, int height,
                           const hw::ArchParams& arch);

}  // namespace wafersim::runtime
