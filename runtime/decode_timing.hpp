// Timing-only decode at paper scale: the simulated cycles of decode tokens of a LLaMA model on one W x H region,
// from its config alone (no weights, no data: the device runs in fabric::DataMode::TimingOnly, the KV cache
// modules are preset to the context's fills, kernels::decode_preset_cache).
// Composition: the decode program (firmware/kernels/llama_decode.hpp) is simulated at cycle level once per context,
// with 2 layers and the final RMSNorm + lm_head: it takes T cycles, and its last PE finishes layer 0 at e0 and
// layer 1 at e1 (kernels::decode_layer_ends). Layers repeat, so one layer in steady state is e1 - e0 (including its
// overlap with its neighbours): a region of n layers with lm_head takes T + (n - 2)(e1 - e0), a stage without it
// (the stages before the last) e0 + (n - 1)(e1 - e0). Where 2 layers and lm_head do not fit a PE together (the last
// stage holds fewer layers), 2 layers without lm_head give e0 and e1 and 1 layer with it gives T1: T1 + (n - 1)(e1 - e0);
// where not even 2 layers without lm_head fit (every stage holds one layer), 1 layer without it gives e0.
// A model that does not fit one region runs on the planner's stages (runtime/planner.hpp: regions of the same size,
// one after another per token; as many as the model needs, Regions::BeyondFabric, with a note when the fabric holds
// fewer): the token's cycles are the stages' sums plus the planner's handoff cycles (a model,
// not simulated); the KV slots per PE are the tightest stage's (at most 4096). Context grows during decode: the token at context c attends to c + 1 entries,
// so the first (context N) and the last (N + M - 1) tokens are simulated and the others interpolated linearly; the
// shift cache's per-row fill grows by one every H tokens, so a token in between may be off by the cost of one slot.
// Every unit simulation is cached on disk (runtime/timing_cache.hpp), keyed by the kernel, its version, the shape, the
// unit heads, the context and the arch (timing_arch_key: no host-only settings); a hit must match the whole key.
// Not modelled: the host's embedding and logits
// copies, the ring position of the preset cache (its oldest entry at slot 0; real appends may split the row's
// entries into two runs).
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hw/arch_params.hpp"
#include "models/llama_config.hpp"
#include "runtime/planner.hpp"
#include "runtime/timing_cache.hpp"
#include "runtime/wafer_backend.hpp"

namespace wafersim::runtime {

// One simulated step: its cycles from the launch, and when its last PE finished layers 0 and 1 (from the launch).
struct UnitTiming {
  std::uint64_t cycles = 0;
  std::array<std::uint64_t, 2> layer_ends{};
  // PE (0, H-1)'s cycles by phase over the step (kernels::decode_phase_cycles: each phase's compute and the wait for
  // its collective, summed over the unit's layers; empty for a cache entry written before they were kept).
  std::vector<std::pair<std::string, std::uint64_t>> phases{};
};

struct DecodeTiming {
  std::uint64_t first_token_cycles = 0;  // the token at context N
  std::uint64_t last_token_cycles = 0;   // the token at context N + M - 1
  double mean_token_cycles = 0;          // over the M tokens (linear between first and last)
  std::uint64_t layer_cycles_first = 0;  // e1 - e0 at context N
  std::uint64_t head_cycles_first = 0;   // T - 2 (e1 - e0): launch, final RMSNorm and lm_head at context N
  // One layer at context N by phase at PE (0, H-1) (the unit's phases over its layers / layers; "final rmsnorm"
  // and "lm_head" as in the unit): where a layer's time goes; the phases of one PE, so their sum is not e1 - e0.
  std::vector<std::pair<std::string, std::uint64_t>> layer_phase_cycles_first;
  std::uint64_t handoff_cycles = 0;      // between stages, per token
  int stages = 1;
  std::uint32_t kv_slots = 0;
  int simulations = 0, cached = 0;       // unit simulations run / taken from the cache
  std::string note;                      // Plan::fabric_note(): more stages than the fabric holds
};

// The decode program of one model on one region in timing-only mode. The device is built on the first cache
// miss (one Device per process: a process times one mesh).
class DecodeTimer {
 public:
  // `cache_dir` empty: no cache (else usually timing_cache_dir()). CapacityError when the model does not fit the region.
  DecodeTimer(const models::LlamaConfig& config, const std::string& model_name, const hw::ArchParams& arch,
              const WaferOptions& options, std::filesystem::path cache_dir);
  ~DecodeTimer();

  // Times `new_tokens` (>= 1) decode tokens after `context` cached entries (CapacityError past the cache).
  DecodeTiming time(std::uint64_t context, std::uint64_t new_tokens);
  // One decode step of the program with `layers` layers (1..L) at `context`: cached or simulated. `lm_head`: the
  // region also holds the final RMSNorm and lm_head. cycles(): its UnitTiming::cycles.
  UnitTiming unit(std::uint32_t layers, std::uint64_t context, bool lm_head = true);
  std::uint64_t cycles(std::uint32_t layers, std::uint64_t context, bool lm_head = true);
  // The cached unit, if the cache holds this exact key.
  std::optional<UnitTiming> cached(std::uint32_t layers, std::uint64_t context, bool lm_head = true) const;
  const Plan& plan() const { return plan_; }
  std::uint64_t max_context() const;  // the KV cache's capacity
  int simulations() const { return simulations_; }
  int hits() const { return hits_; }

 private:
  kernels::DecodeShape shape(std::uint32_t layers, bool lm_head) const;
  std::string key(std::uint32_t layers, std::uint64_t context, bool lm_head) const;

  models::LlamaConfig config_;
  hw::ArchParams arch_;
  WaferOptions options_;
  TimingCache cache_;
  DecodeLayout layout_;
  Plan plan_;
  std::uint32_t slots_ = 0;
  kernels::DecodeProgramLayout program_;  // the program loaded on device_ (outlives it)
  std::unique_ptr<Device> device_;
  int simulations_ = 0, hits_ = 0;
};

}  // namespace wafersim::runtime
