#include "runtime/decode_layout.hpp"

#include <algorithm>

#include "common/error.hpp"

namespace wafersim::runtime {
namespace {

std::uint64_t aligned(std::uint64_t count, std::uint64_t elem_bytes) { return (count * elem_bytes + 3) / 4 * 4; }

std::string where(const DecodeLayout& l) {
  return "decode layout of " + l.model + " on " + std::to_string(l.width) + "x" + std::to_string(l.height) + " PEs";
}

}  // namespace

ColumnSlot DecodeLayout::q_slot(int head, int dim) const {
  const int kv_head = head / int(group), m = head % int(group);
  const std::uint32_t pair = std::uint32_t(dim) % half, c = std::uint32_t(dim) / half;
  const std::uint32_t unit = std::uint32_t(kv_head) * half + pair;
  const int column = int(unit / units.block);
  const std::uint32_t j = unit % units.block;
  return {column, (j * group + std::uint32_t(m)) * 2 + c};
}

ColumnSlot DecodeLayout::kv_slot(int kv_head, int dim) const {
  const std::uint32_t pair = std::uint32_t(dim) % half, c = std::uint32_t(dim) / half;
  const std::uint32_t unit = std::uint32_t(kv_head) * half + pair;
  return {int(unit / units.block), (unit % units.block) * 2 + c};
}

int DecodeLayout::q_head_of(int column, std::uint32_t index) const {
  const std::uint32_t j = index / (2 * group), m = (index / 2) % group;
  if (j >= valid_units(column)) return -1;
  const std::uint32_t unit = units.first(column) + j;
  return int((unit / half) * group + m);
}

std::uint64_t DecodeLayout::decode_macs(std::uint64_t context) const {
  const auto& c = config;
  const std::uint64_t E = std::uint64_t(c.hidden_size), F = std::uint64_t(c.intermediate_size);
  const std::uint64_t q = std::uint64_t(c.q_dim()), kv = std::uint64_t(c.kv_dim());
  const std::uint64_t layer = E * (q + 2 * kv) + q * E + 3 * E * F + 2 * q * context;
  return std::uint64_t(c.num_hidden_layers) * layer + E * std::uint64_t(c.vocab_size);
}

std::uint64_t DecodeLayout::layer_weight_bytes_per_pe() const {
  const std::uint64_t e = hidden_per_pe();
  std::uint64_t b = aligned(e * qkv_per_pe(), 2)         // W_qkv [E_y, qkv_x]
                    + aligned(std::uint64_t(q_per_pe()) * e, 2)  // W_o [q_x, E_y]
                    + aligned(e * 2 * ffn_per_pe(), 2)    // W_gate | W_up [E_y, 2 F_x]
                    + aligned(std::uint64_t(ffn_per_pe()) * e, 2)  // W_down [F_x, E_y]
                    + 2 * aligned(e, 4);                  // attention and FFN RMSNorm weights
  if (config.attention_bias) b += aligned(qkv_per_pe(), 4);
  return b;
}

std::uint64_t DecodeLayout::activation_bytes_per_pe() const {
  const std::uint64_t e = hidden_per_pe(), acc16 = std::max({qkv_per_pe(), 2 * ffn_per_pe(), hidden_per_pe(), vocab_per_pe()});
  return aligned(e, 4) + aligned(e, 2) + aligned(e, 4)        // x (residual), normed x (fp16), GEMV output along Y
         + aligned(qkv_per_pe(), 4) + aligned(q_per_pe(), 2)  // q|k|v accumulator, q after RoPE (fp16)
         + aligned(q_per_pe(), 4) + aligned(q_per_pe(), 2)    // attention output accumulator and fp16 copy
         + aligned(2 * ffn_per_pe(), 4) + aligned(ffn_per_pe(), 2)  // gate|up accumulator, silu(gate)*up (fp16)
         + aligned(acc16, 2)                                 // fp16 accumulator (--accum fp16)
         + 2 * aligned(q_heads(), 4)                         // softmax max and sum per query head
         + 3 * aligned(units.block, 4)                       // RoPE inverse frequencies, cos, sin
         + 2 * aligned(1, 4);                                // scalars: sum of squares, position
}

std::uint64_t DecodeLayout::kv_bytes_per_token_per_pe(int layers) const {
  return std::uint64_t(layers) * 2 * aligned(kv_per_pe(), 2) + std::uint64_t(q_heads()) * (4 + 2);
}

std::uint64_t DecodeLayout::lm_head_bytes_per_pe() const {
  const std::uint64_t e = hidden_per_pe();
  return aligned(e, 4) + aligned(e * vocab_per_pe(), 2) + aligned(vocab_per_pe(), 4);
}

std::uint64_t DecodeLayout::sram_bytes_per_pe(int layers, std::uint32_t kv_slots, bool with_lm_head) const {
  const std::uint64_t slots = kv_slots, heads = q_heads();
  return std::uint64_t(layers) * (layer_weight_bytes_per_pe() + 2 * aligned(kv_per_pe() * slots, 2)) +
         aligned(heads * slots, 4) + aligned(heads * slots, 2) + activation_bytes_per_pe() +
         (with_lm_head ? lm_head_bytes_per_pe() : 0);
}

std::uint32_t DecodeLayout::max_kv_slots_per_pe(int layers, bool with_lm_head) const {
  const std::uint64_t fixed = sram_bytes_per_pe(layers, 0, with_lm_head);
  if (fixed >= sram_limit) return 0;
  // kv_bytes_per_token_per_pe is exact but for the 2-byte rounding of the fp16 score rows: step down if needed.
  auto slots = std::uint32_t((sram_limit - fixed) / kv_bytes_per_token_per_pe(layers));
  while (slots > 0 && sram_bytes_per_pe(layers, slots, with_lm_head) > sram_limit) --slots;
  return slots;
}

DecodeLayout decode_layout(const models::LlamaConfig& config, const std::string& model, int width, int height,
                           const hw::ArchParams& arch) {
  DecodeLayout l;
  l.model = model;
  l.config = config;
  l.width = width;
  l.height = height;
  if (width < 1 || height < 1)
    throw ConfigError(where(l) + ": the mesh needs at least 1x1 PEs");
  if (config.head_dim < 2 || config.head_dim % 2 != 0)
    throw ConfigError(where(l) + ": head_dim " + std::to_string(config.head_dim) +
                      " must be even (RoPE rotates pairs of dims)");
  if (config.num_key_value_heads < 1 || config.num_attention_heads % config.num_key_value_heads != 0)
    throw ConfigError(where(l) + ": num_attention_heads " + std::to_string(config.num_attention_heads) +
                      " must be a multiple of num_key_value_heads " + std::to_string(config.num_key_value_heads));
  l.sram_limit = arch.pe.sram_bytes - arch.pe.code_reserve_bytes;
  l.group = std::uint32_t(config.kv_group());
  l.half = std::uint32_t(config.head_dim / 2);
  l.hidden = kernels::Split(std::uint32_t(config.hidden_size), height);
  l.units = kernels::Split(std::uint32_t(config.num_key_value_heads) * l.half, width);
  l.ffn = kernels::Split(std::uint32_t(config.intermediate_size), width);
  l.vocab = kernels::Split(std::uint32_t(config.vocab_size), width);
  const std::uint64_t need = l.sram_bytes_per_pe(1, 1, false);
  if (need > l.sram_limit)
    throw CapacityError(where(l) + ": one layer with its activations and one cached token needs " +
                        std::to_string(need) + " bytes per PE (layer weights " +
                        std::to_string(l.layer_weight_bytes_per_pe()) + ", activations " +
                        std::to_string(l.activation_bytes_per_pe()) + ", KV " +
                        std::to_string(l.kv_bytes_per_token_per_pe(1)) + "), over the " +
                        std::to_string(l.sram_limit) + "-byte limit (pe.sram_bytes " +
                        std::to_string(arch.pe.sram_bytes) + " - pe.code_reserve_bytes " +
                        std::to_string(arch.pe.code_reserve_bytes) + "); use a larger mesh");
  return l;
}

}  // namespace wafersim::runtime
