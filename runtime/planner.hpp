// Places a LLaMA model on the fabric as WaferLLM does (docs/llama-planner.md).
// Decode: the per-PE decode layout of runtime/decode_layout.hpp on a W x H region (every size comes from there).
// Layers are stacked in each PE's SRAM as far as they fit with at least one cached token; a model that needs more
// goes to several regions ("stages") of the same size, tiled over the fabric in snake order so consecutive stages
// are neighbours, and run one after another for a token, the hidden vector (V_y) handed from the last layer of a
// stage to the first of the next. The last stage also holds the final RMSNorm and lm_head (an on-wafer GEMV, vocab
// along X); the embedding lookup (one row of the table) and sampling run on the host. Layers are spread evenly
// (the first stages take the extra ones), so every stage keeps room for the KV cache; the tokens the plan can cache
// are those of the tightest stage: shift H x slots, concat slots (firmware/kernels/kv_cache.hpp).
// Prefill: the sequence along Y and the embedding along X on a square P x P region, every projection a MeshGEMM
// with its weight 2-D partitioned, Q.K^T by dist-GEMM-T one head at a time; per PE the stacked layers' weights and
// the prompt's K/V, plus a working set (the largest MeshGEMM's buffers, the residual, one head's score block).
// Model dimensions are padded up to multiples of the mesh side (kernels::Split), as the paper rounds them.
// The handoff between stages is a model, not simulated: ramp out, the hops between corresponding PEs of the two
// regions (W for side-by-side regions, H for stacked ones), ramp in, and the hidden block streamed at one element
// per cycle (stacked regions share the W column links: ceil(H / W) blocks each).
// Timing-only runs may place more stages than the fabric has regions (Regions::BeyondFabric): the stages past the
// fabric continue the snake order as if the fabric had more rows of regions (origins off the fabric), the handoffs
// are timed the same way, and fabric_note() says so. The paper reports such models from per-layer measurements.
// Not modelled here: regions of different sizes, several requests in flight (pipelining the stages), memcpy/host I/O
// columns (the fabric's full size is available). The prefill -> decode re-layout between the two phases' stages is
// runtime/relayout.hpp's.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "firmware/kernels/llama_prefill.hpp"
#include "hw/arch_params.hpp"
#include "models/llama_config.hpp"
#include "runtime/decode_layout.hpp"

namespace wafersim::runtime {

enum class Phase { Decode, Prefill };
const char* to_string(Phase p);
// Fabric: at most the regions of `mesh` the fabric holds (functional runs, `plan`); BeyondFabric: as many stages as
// the model needs (timing-only), on an imagined fabric with more rows of regions.
enum class Regions { Fabric, BeyondFabric };

struct Stage {
  int first_layer = 0, layers = 0;
  bool lm_head = false;              // holds the final RMSNorm and lm_head
  int x0 = 0, y0 = 0;                // region origin on the fabric
  std::uint64_t sram_bytes_per_pe = 0;  // decode: without the KV cache; prefill: everything
  std::uint32_t kv_slots_per_pe = 0;    // decode: cached tokens per PE that fit beside the layers
  int handoff_hops = 0;              // to the next stage (0 on the last)
  std::uint64_t handoff_cycles = 0;
};

struct Plan {
  Phase phase = Phase::Decode;
  std::string model, arch;
  int width = 1, height = 1;                  // region
  int fabric_width = 1, fabric_height = 1;    // the arch's fabric
  int regions_available = 1;
  int layers = 0;                             // layers placed
  std::uint64_t sram_limit = 0;               // per PE: pe.sram_bytes - pe.code_reserve_bytes
  // Model dimensions padded to the mesh (decode: hidden over H rows, the rest over W columns; prefill: all over P).
  std::uint64_t hidden = 0, kv_dim = 0, ffn = 0, vocab = 0;
  std::uint64_t layer_weight_bytes_per_pe = 0;
  std::vector<Stage> stages;
  std::uint64_t sram_bytes_per_pe_max = 0;
  // Decode: the KV cache.
  std::uint32_t kv_slots_per_pe = 0;          // the tightest stage's
  std::uint64_t kv_bytes_per_token_per_pe = 0;  // of the stage with the most layers
  std::uint64_t shift_max_tokens = 0, concat_max_tokens = 0;
  // Prefill.
  std::uint32_t prompt_len = 0;
  std::uint64_t kv_bytes_per_layer_per_pe = 0, working_bytes_per_pe = 0;

  // The handoffs of one token through the stages (the sum of Stage::handoff_cycles; 0 for one stage).
  std::uint64_t handoff_cycles() const;
  // More stages than the fabric holds (Regions::BeyondFabric only).
  bool beyond_fabric() const { return int(stages.size()) > regions_available; }
  // "" when the stages fit the fabric, else e.g. "needs 3 regions of 420x420, the wse2 fabric (757x996 PEs) holds 2:
  // the time assumes a fabric with 3 such regions (stages past the fabric continue the snake order; the paper
  // reports such models from per-layer measurements); no weights are reloaded".
  std::string fabric_note() const;
  nlohmann::json to_json() const;
  std::string to_text() const;
};

// Throws ConfigError (bad mesh, a mesh larger than the fabric, prefill on a non-square mesh) and CapacityError
// naming the model, the bytes it needs, the bytes the fabric's regions hold and the fabric size.
Plan plan_decode(const models::LlamaConfig& config, const std::string& model, int width, int height,
                 const hw::ArchParams& arch, Regions regions = Regions::Fabric);
// The prefill kernels' shape of `config` on a P x P region for a prompt of `seq` tokens (llama_prefill.hpp).
kernels::PrefillShape prefill_shape(const models::LlamaConfig& config, int P, std::uint32_t seq, bool fp32_accumulate);
Plan plan_prefill(const models::LlamaConfig& config, const std::string& model, int width, int height,
                  std::uint32_t prompt_len, const hw::ArchParams& arch);

}  // namespace wafersim::runtime
