// The modelled wafer as a LogitsBackend: a LLaMA model's layers resident in the SRAM of one W x H region
// (runtime/decode_layout.hpp), each token one run of the decode program (firmware/kernels/llama_decode.hpp) on a
// Device, the KV cache staying on the wafer between steps. The host looks up the token's embedding row and writes
// its hidden blocks into the PEs (row r gets block r, replicated along X), names the position and the row that
// writes the position, launches "decode", and reads the logits blocks from row 0; sampling stays on the host.
// Weights are loaded once, permuted into the layout's pair-unit order and cut into fp16 blocks.
// KV cache: the kv_cache module on the wafer, shift-based (the paper's; holds slots x H tokens) or concatenation
// (the tail row only; slots tokens), slots = the KV tokens per PE.
// Prefill (a prompt of L tokens): the first L - 1 run through kernels::llama_prefill_layer layer by layer on a P x P
// prefill region, P = min(W, H) (prefill_side: the largest square of the decode region's PEs, at its origin; the
// prefill's device runs are its own fabrics, firmware/kernels/llama_prefill.hpp), each layer's output rows the next
// one's input. Their K and V are handed to the decode region's cache (KvCacheModule::preload on every PE: the cache
// is then as L - 1 appends would leave it), timed by kv_handover's model. The last prompt token then runs as a
// decode step (it appends its K/V and gives the first new token's logits on the wafer). A 1-token prompt is that
// step alone.
// Not modelled: several regions (the whole model must fit one region), timed memcpy of the embedding row and
// logits, batching; the weights' re-lay between the prefill and decode layouts (both are written by the host,
// untimed, as every weight load).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "firmware/kernels/llama_decode.hpp"
#include "firmware/kernels/llama_prefill.hpp"
#include "models/llama_weights.hpp"
#include "models/logits_backend.hpp"
#include "runtime/decode_layout.hpp"
#include "runtime/device.hpp"

namespace wafersim::runtime {

struct WaferOptions {
  int width = 4, height = 4;        // the region (PEs)
  bool fp32_accumulate = true;      // fmachs; false: fmach (fp16 accumulation)
  std::uint32_t kv_slots = 0;       // KV tokens per PE; 0: as many as the SRAM holds (at most 4096)
  kernels::KvPolicy kv_policy = kernels::KvPolicy::Shift;
};

// The KV tokens per PE beside `layers` layers and lm_head: `requested`, or (0) as many as fit (at most 4096).
// CapacityError naming the model, the mesh and the bytes when the layers or the request do not fit.
std::uint32_t decode_kv_slots(const DecodeLayout& layout, const std::string& model_name, std::uint32_t requested);
// The decode program's shape for `layers` of the layout's layers (with lm_head) and `slots` KV tokens per PE.
kernels::DecodeShape decode_shape(const DecodeLayout& layout, std::uint32_t layers, std::uint32_t slots,
                                  const WaferOptions& options);
// unit_kv_head of kernels::llama_decode: the KV head of each local pair unit of each column (-1: padding).
std::vector<std::vector<int>> decode_unit_heads(const DecodeLayout& layout);

// The side P of the square prefill region inside a W x H decode region: min(W, H), at the region's origin.
int prefill_side(const DecodeLayout& layout);
// The SRAM per PE the largest device run of the prefill of `tokens` prompt tokens needs on that region: the GEMMs'
// own bounds (kernels::shift_gemm_sram_bytes for qkv, wo, up_gate, down and pv; dist_gemm_t_sram_bytes for scores,
// whose [tokens x tokens] blocks grow fastest), the checks llama_prefill_layer's runs make; the row programs' blocks
// are no larger than the GEMM outputs they work on. 0 for no tokens. The prompt fits when this is at most
// layout.sram_limit (--mesh auto's test).
std::uint64_t prefill_sram_bytes_per_pe(const DecodeLayout& layout, std::uint32_t tokens, bool fp32_accumulate);

// The prefill -> decode hand-over of the K and V of `tokens` prompt tokens of `layers` layers (a model, not
// simulated). Source: where the prefill's qkv and rope runs leave K and V, the fused [tokens x (q + 2 kv)]
// activation on the P x P prefill region (token t on row block t of Split(tokens, P), column c of the fused row on
// column block c of Split(q + 2 kv, P)). Destination: the decode cache as `tokens` appends leave it (shift: the
// rows' balanced fills, oldest at the top; concat: the bottom row), (KV head, dim) on DecodeLayout::kv_slot's
// column. Every fp16 element that changes PE is one wavelet; the PEs send (and receive) in parallel, each through
// its ramp at router.ramp_width wavelets per cycle, so
//   cycles = ceil(words_per_pe_max / ramp_width) + hops_max * hop_latency + 2 * ramp_latency   (0 if nothing moves)
// with words_per_pe_max the most wavelets a PE sends or receives (all layers, K and V) and hops_max the longest
// Manhattan distance an element travels. Elements that stay on their PE (a local copy) and link contention beyond
// the ramps are not counted.
struct KvHandover {
  std::uint64_t tokens = 0;
  std::uint64_t words_per_pe_max = 0;  // fp16 K/V elements (wavelets) the busiest PE sends or receives
  std::uint64_t words_moved = 0;       // over the region
  int hops_max = 0;
  std::uint64_t cycles = 0;
};
KvHandover kv_handover(const DecodeLayout& layout, kernels::KvPolicy policy, int prefill_side, std::uint64_t tokens,
                       int layers, const hw::ArchParams& arch);

class WaferBackend final : public models::LogitsBackend {
 public:
  // Builds the device and the program and writes the weights. Throws CapacityError when the model does not fit.
  WaferBackend(std::shared_ptr<const models::LlamaWeights> weights, const std::string& model_name,
               const hw::ArchParams& arch, WaferOptions options);
  ~WaferBackend() override;

  int64_t vocab_size() const override { return weights_->config.vocab_size; }
  // The prompt (see the header comment). CapacityError when the prompt exceeds the KV cache or a prefill run's
  // blocks (e.g. the [L x L] scores of a long prompt) do not fit a PE of the P x P prefill region.
  std::vector<float> prefill(const std::vector<int32_t>& tokens) override;
  std::vector<float> decode(int32_t token) override;
  int64_t sequence_length() const override { return length_; }
  std::string describe() const override;

  const DecodeLayout& layout() const { return layout_; }
  Device& device() { return *device_; }
  std::uint32_t kv_slots() const { return shape_.slots; }
  std::uint64_t max_tokens() const;  // the KV cache's capacity (kv_capacity_tokens)
  int colors_per_pe_max() const { return program_.colors_per_pe_max; }
  std::uint32_t sram_bytes_per_pe_max() const;  // measured on the device: symbols + code reserve
  std::uint64_t last_step_cycles() const { return last_cycles_; }
  // Simulated cycles of the prompt: the prefill runs (every layer's, summed), the hand-over (kv_handover's model)
  // and the last prompt token's decode step; and of the decode steps after it.
  std::uint64_t prefill_cycles() const { return prefill_run_cycles_ + handover_.cycles + prefill_step_cycles_; }
  std::uint64_t prefill_run_cycles() const { return prefill_run_cycles_; }
  const KvHandover& handover() const { return handover_; }
  std::uint64_t prefill_step_cycles() const { return prefill_step_cycles_; }
  // The prefill runs' cycles by kernel, summed over the layers (kernels::PrefillResult::kernels).
  const std::vector<std::pair<std::string, std::uint64_t>>& prefill_kernel_cycles() const { return prefill_kernels_; }
  std::uint64_t prefill_sram_bytes_per_pe_max() const { return prefill_sram_; }  // the largest prefill run's
  std::uint64_t decode_cycles() const { return decode_cycles_; }
  std::uint64_t decode_steps() const { return decode_steps_; }
  // Useful MACs of the decode steps (DecodeLayout::decode_macs) over what the region's PEs could have done in
  // their cycles at the accumulation's SIMD width (pe.simd.fmachs or fmach).
  double decode_compute_utilisation() const;
  // The decode steps' cycles by phase at PE (0, H-1) (the bottom row always holds cached entries), summed over
  // the steps (kernels::decode_phase_cycles).
  const std::vector<std::pair<std::string, std::uint64_t>>& decode_phase_cycles() const { return phase_cycles_; }

 private:
  std::vector<float> step(int32_t token);
  void write_weights();
  // Runs `tokens` through the prefill layers and preloads their K and V into the decode cache.
  void prefill_on_wafer(const std::vector<int32_t>& tokens);

  std::shared_ptr<const models::LlamaWeights> weights_;
  hw::ArchParams arch_;
  WaferOptions options_;
  DecodeLayout layout_;
  kernels::DecodeShape shape_;
  kernels::DecodeProgramLayout program_;
  std::unique_ptr<Device> device_;
  int64_t length_ = 0;
  std::uint64_t last_cycles_ = 0, decode_cycles_ = 0, decode_steps_ = 0, decode_macs_ = 0;
  std::uint64_t prefill_run_cycles_ = 0, prefill_step_cycles_ = 0, prefill_sram_ = 0;
  KvHandover handover_;
  std::vector<std::pair<std::string, std::uint64_t>> phase_cycles_, prefill_kernels_;
};

}  // namespace wafersim::runtime
