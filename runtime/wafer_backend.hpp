// The modelled wafer as a LogitsBackend: a LLaMA model's layers resident in the SRAM of the planner's stages
// (runtime/planner.hpp, plan_decode: one W x H region when the model fits one, else several regions of that size at
// the planner's origins, the layers spread over them, the last also holding the final RMSNorm and lm_head), each
// region with the decode program (firmware/kernels/llama_decode.hpp) of its layers and its own KV cache for them,
// staying on the wafer between steps. The regions are resident side by side on one Device whose fabric is their
// bounding box (Device::load_beside; SystemC elaborates one Device per process, so one fabric holds every stage).
// A token: the host looks up its embedding row and writes its hidden blocks into the first stage's PEs (row r gets
// block r, replicated along X), names the position, launches "decode" there; a stage without lm_head ends with its
// residual stream (x), which the host copies block by block into the next stage's x (the handoff, timed by the
// planner's handoff_cycles, the same model --timing-only composes); the last stage gives the logits blocks (row 0);
// sampling stays on the host. A token's cycles: the stages' runs plus the handoffs (as runtime/decode_timing.hpp
// composes them). Weights are loaded once, permuted into the layout's pair-unit order and cut into fp16 blocks.
// KV cache: the kv_cache module on the wafer, shift-based (the paper's; holds slots x H tokens) or concatenation
// (the tail row only; slots tokens), slots = the KV tokens per PE (the same in every stage: the tightest's).
// Prefill (a prompt of L tokens): the first L - 1 run through kernels::llama_prefill_layer layer by layer on a P x P
// prefill region, P = min(W, H) (prefill_side: the largest square of a decode region's PEs, at its origin; the
// prefill's device runs are its own fabrics, firmware/kernels/llama_prefill.hpp), each layer's output rows the next
// one's input. Their K and V are handed to the cache of the stage holding the layer (KvCacheModule::preload on every
// PE: the cache is then as L - 1 appends would leave it), timed by kv_handover's model: each stage's layers inside
// its region, the stages in parallel, so the stage with the most layers sets the time (as --timing-only's end to
// end). The weights are re-laid from the prefill's MeshGEMM blocks (each stage's layers on the P x P square at its
// origin) to the decode layout of the stage, timed by weight_relayout's model (runtime/relayout.hpp; all stages on
// one fabric; the data itself is written by the host, as every weight load: the prefill runs' B blocks per run, the
// decode layout once). Both lie between the prefill runs and the first new token, so prefill_cycles counts them.
// The last prompt token then runs as a decode step (it appends its K/V and gives the first new token's logits on
// the wafer). A 1-token prompt is that step alone (no prefill layout, nothing re-laid).
// Not modelled: pipelining several tokens or requests through the stages, timed memcpy of the embedding row and
// logits (the handoff between stages is the planner's model, not simulated wavelets), the initial weight load,
// batching; the hand-over and the re-lay sharing links (each is timed alone).
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
#include "runtime/planner.hpp"
#include "runtime/relayout.hpp"

namespace wafersim::runtime {

struct WaferOptions {
  int width = 4, height = 4;        // the region (PEs)
  bool fp32_accumulate = true;      // fmachs; false: fmach (fp16 accumulation)
  std::uint32_t kv_slots = 0;       // KV tokens per PE; 0: as many as the SRAM holds (at most 4096)
  kernels::KvPolicy kv_policy = kernels::KvPolicy::Shift;
};

// The KV tokens per PE of every stage of a decode plan: `requested`, or (0) as many as the tightest stage holds (at
// most 4096). CapacityError naming the model, the mesh and the limit when the request does not fit.
std::uint32_t decode_kv_slots(const Plan& plan, std::uint32_t requested);
// The decode program's shape for `layers` of the layout's layers and `slots` KV tokens per PE, with the final
// RMSNorm and lm_head if `lm_head` (a region that ends with the residual stream x otherwise).
kernels::DecodeShape decode_shape(const DecodeLayout& layout, std::uint32_t layers, std::uint32_t slots,
                                  const WaferOptions& options, bool lm_head = true);
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

class WaferBackend final : public models::LogitsBackend {
 public:
  // Places the model (plan_decode on the fabric), builds the device and the stages' programs and writes the
  // weights. Throws CapacityError when the model does not fit the fabric's regions of W x H.
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

  const DecodeLayout& layout() const { return layout_; }  // every stage's region
  const Plan& plan() const { return plan_; }              // the stages: layers, origins, handoffs
  Device& device() { return *device_; }
  // Stage s's decode program (its layout: the symbols of its layers, numbered from 0, and its KV cache modules).
  const kernels::DecodeProgramLayout& stage_program(std::size_t s) const { return stages_.at(s).program; }
  std::uint32_t kv_slots() const { return stages_.front().shape.slots; }
  std::uint64_t max_tokens() const;  // the KV cache's capacity (kv_capacity_tokens)
  int colors_per_pe_max() const;     // over the stages
  std::uint32_t sram_bytes_per_pe_max() const;  // measured on the device: symbols + code reserve, over the stages
  // The last step's cycles: the stages' runs and the handoffs between them.
  std::uint64_t last_step_cycles() const { return last_cycles_; }
  // Simulated cycles of the prompt: the prefill runs (every layer's, summed), the K/V hand-over (kv_handover's
  // model), the weights' re-lay (weight_relayout's model) and the last prompt token's decode step; and of the
  // decode steps after it.
  std::uint64_t prefill_cycles() const {
    return prefill_run_cycles_ + handover_.cycles + relayout_.cycles + prefill_step_cycles_;
  }
  std::uint64_t prefill_run_cycles() const { return prefill_run_cycles_; }
  const KvHandover& handover() const { return handover_; }
  const WeightRelayout& relayout() const { return relayout_; }
  std::uint64_t prefill_step_cycles() const { return prefill_step_cycles_; }
  // The prefill runs' cycles by kernel, summed over the layers (kernels::PrefillResult::kernels).
  const std::vector<std::pair<std::string, std::uint64_t>>& prefill_kernel_cycles() const { return prefill_kernels_; }
  std::uint64_t prefill_sram_bytes_per_pe_max() const { return prefill_sram_; }  // the largest prefill run's
  std::uint64_t decode_cycles() const { return decode_cycles_; }
  std::uint64_t decode_steps() const { return decode_steps_; }
  // The decode steps' runs of each stage, summed over the steps (decode_cycles() is their sum plus the handoffs,
  // Plan::handoff_cycles() per step).
  std::vector<std::uint64_t> decode_stage_cycles() const;
  // Useful MACs of the decode steps (DecodeLayout::decode_macs) over what the stages' PEs could have done in
  // their cycles at the accumulation's SIMD width (pe.simd.fmachs or fmach).
  double decode_compute_utilisation() const;
  // The decode steps' cycles by phase at PE (0, H-1) of each stage (the bottom row always holds cached entries),
  // summed over the stages and the steps (kernels::decode_phase_cycles).
  const std::vector<std::pair<std::string, std::uint64_t>>& decode_phase_cycles() const { return phase_cycles_; }

 private:
  // One region: the planner's stage, its program (its layers, lm_head on the last) and its runs' cycles.
  struct StageProgram {
    Stage stage;
    kernels::DecodeShape shape;
    kernels::DecodeProgramLayout program;
    std::uint64_t last_cycles = 0, decode_cycles = 0;
  };

  std::vector<float> step(int32_t token);
  void write_weights(StageProgram& stage);
  // Runs `tokens` through the prefill layers and preloads their K and V into the stages' caches.
  void prefill_on_wafer(const std::vector<int32_t>& tokens);

  std::shared_ptr<const models::LlamaWeights> weights_;
  hw::ArchParams arch_;
  WaferOptions options_;
  DecodeLayout layout_;
  Plan plan_;
  std::vector<StageProgram> stages_;
  std::unique_ptr<Device> device_;  // after stages_: destroyed first (it refers to their layouts)
  int64_t length_ = 0;
  std::uint64_t last_cycles_ = 0, decode_cycles_ = 0, decode_steps_ = 0, decode_macs_ = 0;
  std::uint64_t prefill_run_cycles_ = 0, prefill_step_cycles_ = 0, prefill_sram_ = 0;
  KvHandover handover_;
  WeightRelayout relayout_;
  std::vector<std::pair<std::string, std::uint64_t>> phase_cycles_, prefill_kernels_;
};

}  // namespace wafersim::runtime
