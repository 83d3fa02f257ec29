#include "runtime/planner.hpp"

#include <algorithm>
#include <functional>
#include <sstream>

#include "common/error.hpp"
#include "firmware/kernels/meshgemm.hpp"
#include "firmware/kernels/tiling.hpp"
#include "models/cpu_ops.hpp"

namespace wafersim::runtime {
namespace {

using kernels::Split;

std::uint64_t aligned(std::uint64_t count, std::uint64_t elem_bytes) { return (count * elem_bytes + 3) / 4 * 4; }
std::string mesh_name(int w, int h) { return std::to_string(w) + "x" + std::to_string(h); }

Plan base_plan(Phase phase, const std::string& model, int width, int height, const hw::ArchParams& arch) {
  Plan p;
  p.phase = phase;
  p.model = model;
  p.arch = arch.name;
  p.width = width;
  p.height = height;
  p.fabric_width = arch.fabric.width;
  p.fabric_height = arch.fabric.height;
  p.sram_limit = arch.pe.sram_bytes - arch.pe.code_reserve_bytes;
  if (width < 1 || height < 1) throw ConfigError("plan: --mesh " + mesh_name(width, height) + ": at least 1x1 PEs");
  if (width > arch.fabric.width || height > arch.fabric.height)
    throw ConfigError("plan: --mesh " + mesh_name(width, height) + " is larger than the " + arch.name + " fabric (" +
                      mesh_name(arch.fabric.width, arch.fabric.height) + " PEs)");
  p.regions_available = (arch.fabric.width / width) * (arch.fabric.height / height);
  return p;
}

// Spreads `layers` over the fewest stages (at most the regions available, or every layer its own stage with
// Regions::BeyondFabric) such that every stage fits: room(n,
// lm_head) >= 0 for a stage of n layers (with lm_head on the last). With that count, the last stage's layers are
// chosen to maximise the smallest room (it also holds lm_head), the others share the rest evenly, the first ones
// taking the extra layers. Places the stages in snake order and times the handoffs. Throws CapacityError with
// `needed` bytes when no count works.
void stack_layers(Plan& p, int layers, const std::function<std::int64_t(int, bool)>& room, std::uint64_t needed,
                  std::uint32_t hidden_block, const hw::ArchParams& arch, Regions regions) {
  std::vector<int> best;
  const int max_stages = regions == Regions::BeyondFabric ? layers : std::min(layers, p.regions_available);
  for (int s = 1; s <= max_stages && best.empty(); ++s) {
    std::int64_t best_room = -1;
    for (int last = s == 1 ? layers : 1; last <= layers - (s - 1); ++last) {
      std::vector<int> n(std::size_t(s), last);
      const int rest = layers - last;
      for (int i = 0; i + 1 < s; ++i) n[std::size_t(i)] = rest / (s - 1) + (i < rest % (s - 1) ? 1 : 0);
      std::int64_t r = room(last, true);
      for (int i = 0; i + 1 < s; ++i) r = std::min(r, room(n[std::size_t(i)], false));
      if (r > best_room) {
        best_room = r;
        best = n;
      }
    }
  }
  if (best.empty()) {
    const std::string where = p.model + " does not fit the " + p.arch + " fabric (" +
                              mesh_name(p.fabric_width, p.fabric_height) + " PEs) in " +
                              std::string(to_string(p.phase)) + " regions of " + mesh_name(p.width, p.height) + ": ";
    // Not even one layer (the last with lm_head) fits a region: more regions would not help.
    if (room(1, false) < 0 || room(1, true) < 0)
      throw CapacityError(where + "not even one layer" + (room(1, false) < 0 ? "" : " with lm_head") +
                          " fits the " + std::to_string(p.sram_limit) + " bytes of a PE" +
                          (p.phase == Phase::Decode ? " beside one KV slot" : "") + "; use a larger mesh");
    const std::uint64_t available = std::uint64_t(p.regions_available) * std::uint64_t(p.width) * std::uint64_t(p.height) * p.sram_limit;
    throw CapacityError(where + "it needs " + std::to_string(needed) + " bytes of SRAM, the " +
                        std::to_string(p.regions_available) + " regions hold " + std::to_string(available) + " (" +
                        std::to_string(p.sram_limit) + " bytes per PE); use a larger mesh, or place a subset of the "
                        "layers as the paper does (plan / kv-capacity --layers N, generate --prefill-layers N)");
  }
  const int count = int(best.size());
  p.layers = layers;
  const int per_row = p.fabric_width / p.width;
  int first = 0;
  for (int i = 0; i < count; ++i) {
    Stage st;
    st.first_layer = first;
    st.layers = best[std::size_t(i)];
    st.lm_head = i == count - 1;
    const int gy = i / per_row, gx = gy % 2 == 0 ? i % per_row : per_row - 1 - i % per_row;
    st.x0 = gx * p.width;
    st.y0 = gy * p.height;
    first += st.layers;
    p.stages.push_back(st);
  }
  const std::uint64_t ramp = std::uint64_t(arch.router.ramp_latency), hop = std::uint64_t(arch.router.hop_latency());
  for (std::size_t i = 0; i + 1 < p.stages.size(); ++i) {
    Stage& a = p.stages[i];
    const Stage& b = p.stages[i + 1];
    const bool beside = a.y0 == b.y0;
    a.handoff_hops = beside ? p.width : p.height;
    const std::uint64_t blocks = beside ? 1 : std::uint64_t((p.height + p.width - 1) / p.width);
    a.handoff_cycles = 2 * ramp + std::uint64_t(a.handoff_hops) * hop + blocks * hidden_block;
  }
}

}  // namespace

const char* to_string(Phase p) { return p == Phase::Decode ? "decode" : "prefill"; }

Plan plan_decode(const models::LlamaConfig& config, const std::string& model, int width, int height,
                 const hw::ArchParams& arch, Regions regions) {
  Plan p = base_plan(Phase::Decode, model, width, height, arch);
  const DecodeLayout l = decode_layout(config, model, width, height, arch);
  p.hidden = l.hidden.padded();
  p.kv_dim = std::uint64_t(l.units.padded()) * 2;
  p.ffn = l.ffn.padded();
  p.vocab = l.vocab.padded();
  p.layer_weight_bytes_per_pe = l.layer_weight_bytes_per_pe();
  const int layers = int(config.num_hidden_layers);
  const std::uint64_t needed = std::uint64_t(width) * std::uint64_t(height) * l.sram_bytes_per_pe(layers, 1, true);
  stack_layers(p, layers, [&](int n, bool lm) { return std::int64_t(l.max_kv_slots_per_pe(n, lm)) - 1; }, needed,
               l.hidden_per_pe(), arch, regions);
  p.kv_slots_per_pe = ~0u;
  for (Stage& st : p.stages) {
    st.sram_bytes_per_pe = l.sram_bytes_per_pe(st.layers, 0, st.lm_head);
    st.kv_slots_per_pe = l.max_kv_slots_per_pe(st.layers, st.lm_head);
    p.sram_bytes_per_pe_max = std::max(p.sram_bytes_per_pe_max, st.sram_bytes_per_pe);
    p.kv_slots_per_pe = std::min(p.kv_slots_per_pe, st.kv_slots_per_pe);
  }
  p.kv_bytes_per_token_per_pe = l.kv_bytes_per_token_per_pe(p.stages.front().layers);
  p.shift_max_tokens = std::uint64_t(height) * p.kv_slots_per_pe;
  p.concat_max_tokens = p.kv_slots_per_pe;
  return p;
}

kernels::PrefillShape prefill_shape(const models::LlamaConfig& config, int P, std::uint32_t seq, bool fp32_accumulate) {
  return {.P = P,
          .seq = seq,
          .hidden = std::uint32_t(config.hidden_size),
          .q_heads = std::uint32_t(config.num_attention_heads),
          .kv_heads = std::uint32_t(config.num_key_value_heads),
          .head_dim = std::uint32_t(config.head_dim),
          .ffn = std::uint32_t(config.intermediate_size),
          .rms_eps = config.rms_norm_eps,
          .inv_freq = models::cpu::rope_inv_freq(config),
          .fp32_accumulate = fp32_accumulate};
}

Plan plan_prefill(const models::LlamaConfig& config, const std::string& model, int width, int height,
                  std::uint32_t prompt_len, const hw::ArchParams& arch) {
  Plan p = base_plan(Phase::Prefill, model, width, height, arch);
  if (width != height)
    throw ConfigError("plan --phase prefill: --mesh " + mesh_name(width, height) +
                      ": prefill runs MeshGEMM and dist-GEMM-T on a square P x P mesh");
  if (prompt_len < 1) throw ConfigError("plan --phase prefill: --prompt-len must be at least 1");
  const int P = width;
  const Split sl(prompt_len, P), se(std::uint32_t(config.hidden_size), P), sq(std::uint32_t(config.q_dim()), P),
      skv(std::uint32_t(config.kv_dim()), P), sf(std::uint32_t(config.intermediate_size), P),
      sv(std::uint32_t(config.vocab_size), P);
  p.prompt_len = prompt_len;
  p.hidden = se.padded();
  p.kv_dim = skv.padded();
  p.ffn = sf.padded();
  p.vocab = sv.padded();
  const std::uint64_t e = se.block;
  p.layer_weight_bytes_per_pe = aligned(e * sq.block, 2) + 2 * aligned(e * skv.block, 2)  // W_q, W_k, W_v
                                + aligned(std::uint64_t(sq.block) * e, 2)                 // W_o
                                + 2 * aligned(e * sf.block, 2) + aligned(std::uint64_t(sf.block) * e, 2)  // gate, up, down
                                + 2 * aligned(e, 4)                                       // RMSNorm weights
                                + (config.attention_bias ? aligned(sq.block + 2 * skv.block, 4) : 0);
  p.kv_bytes_per_layer_per_pe = 2 * aligned(std::uint64_t(sl.block) * skv.block, 2);
  // The largest projection (m = prompt, k, n = its weight) sets the MeshGEMM buffers: A and B double-buffered, C.
  // The projections as firmware/kernels/llama_prefill runs them: fused Q|K|V, W_o, fused gate|up, down.
  std::uint64_t gemm = 0;
  for (const auto& [k, n] : {std::pair{config.hidden_size, config.q_dim() + 2 * config.kv_dim()},
                             std::pair{config.q_dim(), config.hidden_size},
                             std::pair{config.hidden_size, 2 * config.intermediate_size},
                             std::pair{config.intermediate_size, config.hidden_size}})
    gemm = std::max(gemm, kernels::shift_gemm_sram_bytes({.P = P, .m = prompt_len, .k = std::uint32_t(k),
                                                          .n = std::uint32_t(n), .fp32_accumulate = true}));
  p.working_bytes_per_pe = gemm + aligned(std::uint64_t(sl.block) * e, 4)  // residual (fp32)
                           + aligned(std::uint64_t(sl.block) * sl.block, 4);  // one head's score block (fp32)
  const std::uint64_t lm = aligned(e, 4) + aligned(e * sv.block, 2) + aligned(sv.block, 4);  // last token's logits
  const auto bytes = [&](int n, bool with_lm) {
    return std::uint64_t(n) * (p.layer_weight_bytes_per_pe + p.kv_bytes_per_layer_per_pe) + p.working_bytes_per_pe +
           (with_lm ? lm : 0);
  };
  const int layers = int(config.num_hidden_layers);
  stack_layers(p, layers, [&](int n, bool with_lm) { return std::int64_t(p.sram_limit) - std::int64_t(bytes(n, with_lm)); },
               std::uint64_t(P) * std::uint64_t(P) * bytes(layers, true), sl.block * se.block, arch, Regions::Fabric);
  for (Stage& st : p.stages) {
    st.sram_bytes_per_pe = bytes(st.layers, st.lm_head);
    p.sram_bytes_per_pe_max = std::max(p.sram_bytes_per_pe_max, st.sram_bytes_per_pe);
  }
  return p;
}

std::uint64_t Plan::handoff_cycles() const {
  std::uint64_t sum = 0;
  for (const Stage& st : stages) sum += st.handoff_cycles;
  return sum;
}

std::string Plan::fabric_note() const {
  if (!beyond_fabric()) return "";
  const std::string n = std::to_string(stages.size());
  return "needs " + n + " regions of " + mesh_name(width, height) + ", the " + arch + " fabric (" +
         mesh_name(fabric_width, fabric_height) + " PEs) holds " + std::to_string(regions_available) +
         ": the time assumes a fabric with " + n + " such regions (stages past the fabric continue the snake order; "
         "the paper reports such models from per-layer measurements); no weights are reloaded";
}

nlohmann::json Plan::to_json() const {
  nlohmann::json st = nlohmann::json::array();
  for (const Stage& s : stages)
    st.push_back({{"first_layer", s.first_layer}, {"layers", s.layers}, {"lm_head", s.lm_head},
                  {"origin", {s.x0, s.y0}}, {"sram_bytes_per_pe", s.sram_bytes_per_pe},
                  {"kv_slots_per_pe", s.kv_slots_per_pe}, {"handoff_hops", s.handoff_hops},
                  {"handoff_cycles", s.handoff_cycles}});
  nlohmann::json j = {{"model", model}, {"phase", to_string(phase)}, {"arch", arch},
                      {"mesh", mesh_name(width, height)}, {"fabric", mesh_name(fabric_width, fabric_height)},
                      {"regions_available", regions_available}, {"layers", layers}, {"sram_limit_bytes", sram_limit},
                      {"dims_padded", {{"hidden", hidden}, {"kv", kv_dim}, {"ffn", ffn}, {"vocab", vocab}}},
                      {"layer_weight_bytes_per_pe", layer_weight_bytes_per_pe}, {"stages", st},
                      {"stage_count", stages.size()}, {"sram_bytes_per_pe_max", sram_bytes_per_pe_max}};
  if (beyond_fabric()) j["fabric_note"] = fabric_note();
  if (phase == Phase::Decode) {
    j["kv_slots_per_pe"] = kv_slots_per_pe;
    j["kv_bytes_per_token_per_pe"] = kv_bytes_per_token_per_pe;
    j["shift_max_tokens"] = shift_max_tokens;
    j["concat_max_tokens"] = concat_max_tokens;
  } else {
    j["prompt_len"] = prompt_len;
    j["kv_bytes_per_layer_per_pe"] = kv_bytes_per_layer_per_pe;
    j["working_bytes_per_pe"] = working_bytes_per_pe;
  }
  return j;
}

std::string Plan::to_text() const {
  std::ostringstream o;
  o << model << ": " << to_string(phase) << " on " << mesh_name(width, height) << " regions of the " << arch
    << " fabric (" << mesh_name(fabric_width, fabric_height) << " PEs, " << regions_available << " regions fit)\n";
  o << "  dims padded to the mesh: hidden " << hidden << ", kv " << kv_dim << ", ffn " << ffn << ", vocab " << vocab
    << "\n  weights per layer per PE: " << layer_weight_bytes_per_pe << " bytes (SRAM limit " << sram_limit
    << " bytes per PE)\n";
  if (phase == Phase::Prefill)
    o << "  prompt " << prompt_len << " tokens: K/V per layer per PE " << kv_bytes_per_layer_per_pe
      << " bytes, working set " << working_bytes_per_pe << " bytes per PE\n";
  o << "  " << stages.size() << " stage(s):\n";
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const Stage& s = stages[i];
    o << "    stage " << i << ": layers " << s.first_layer << ".." << s.first_layer + s.layers - 1
      << (s.lm_head ? " + lm_head" : "") << " at (" << s.x0 << "," << s.y0 << "), " << s.sram_bytes_per_pe
      << " bytes per PE";
    if (phase == Phase::Decode) o << " + KV, " << s.kv_slots_per_pe << " KV slots per PE";
    if (i + 1 < stages.size()) o << "; handoff " << s.handoff_hops << " hops, " << s.handoff_cycles << " cycles";
    o << "\n";
  }
  if (beyond_fabric()) o << "  note: " << fabric_note() << "\n";
  if (phase == Phase::Decode)
    o << "  KV cache: " << kv_slots_per_pe << " tokens per PE (" << kv_bytes_per_token_per_pe
      << " bytes per token per PE); longest decode: shift " << shift_max_tokens << " tokens, concat "
      << concat_max_tokens << "\n";
  return o.str();
}

}  // namespace wafersim::runtime
