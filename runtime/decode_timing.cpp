#include "runtime/decode_timing.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "runtime/version.hpp"

namespace wafersim::runtime {
namespace {

// Bump when the decode program's or the composition's timing changes without a parameter change.
constexpr int kDecodeTimingVersion = 4;

}  // namespace

DecodeTimer::DecodeTimer(const models::LlamaConfig& config, const std::string& model_name, const hw::ArchParams& arch,
                         const WaferOptions& options, std::filesystem::path cache_dir)
    : config_(config), arch_(arch), options_(options), cache_(std::move(cache_dir), "decode"),
      layout_(decode_layout(config, model_name, options.width, options.height, arch)),
      plan_(plan_decode(config, model_name, options.width, options.height, arch, Regions::BeyondFabric)),
      slots_(decode_kv_slots(plan_, options.kv_slots)) {}

DecodeTimer::~DecodeTimer() = default;

std::uint64_t DecodeTimer::max_context() const {
  return kernels::kv_capacity_tokens({.height = layout_.height, .slots = slots_, .policy = options_.kv_policy});
}

kernels::DecodeShape DecodeTimer::shape(std::uint32_t layers, bool lm_head) const {
  return decode_shape(layout_, layers, slots_, options_, lm_head);
}

std::string DecodeTimer::key(std::uint32_t layers, std::uint64_t context, bool lm_head) const {
  const kernels::DecodeShape s = shape(layers, lm_head);
  const nlohmann::json k = {
      {"kernel", "llama_decode"},
      {"version", {kDecodeTimingVersion, wafersim_version()}},
      {"shape",
       {s.width, s.height, s.hidden, s.hidden_total, s.units, s.group, s.q_heads, s.ffn, s.vocab, s.lm_head, s.layers,
        s.slots, s.qkv_bias, s.fp32_accumulate, kernels::to_string(s.kv_policy)}},
      {"unit_heads", decode_unit_heads(layout_)},
      {"context", context},
      {"arch", timing_arch_key(arch_)},
  };
  return k.dump();
}

std::optional<UnitTiming> DecodeTimer::cached(std::uint32_t layers, std::uint64_t context, bool lm_head) const {
  const auto e = cache_.entry(key(layers, context, lm_head));
  if (!e) return {};
  try {
    UnitTiming u{e->at("cycles").get<std::uint64_t>(), e->at("layer_ends").get<std::array<std::uint64_t, 2>>()};
    if (e->contains("phases")) u.phases = e->at("phases").get<decltype(u.phases)>();
    return u;
  } catch (const nlohmann::json::exception&) {
    return {};  // an entry without layer ends: simulate again
  }
}

std::uint64_t DecodeTimer::cycles(std::uint32_t layers, std::uint64_t context, bool lm_head) {
  return unit(layers, context, lm_head).cycles;
}

UnitTiming DecodeTimer::unit(std::uint32_t layers, std::uint64_t context, bool lm_head) {
  if (layers < 1 || layers > config_.num_hidden_layers)
    throw ConfigError("decode timing: layers " + std::to_string(layers) + " outside 1.." +
                      std::to_string(config_.num_hidden_layers));
  if (context >= max_context())
    throw CapacityError("decode timing: context " + std::to_string(context) + " + the new token exceed the " +
                        kernels::to_string(options_.kv_policy) + " KV cache of " + std::to_string(max_context()) +
                        " tokens (" + std::to_string(slots_) + " per PE) on " + std::to_string(layout_.width) + "x" +
                        std::to_string(layout_.height) + " PEs");
  if (const auto c = cached(layers, context, lm_head)) {
    ++hits_;
    return *c;
  }
  if (!device_) device_ = std::make_unique<Device>(arch_, layout_.width, layout_.height, fabric::DataMode::TimingOnly);
  kernels::DecodeProgramLayout program =
      kernels::llama_decode(shape(layers, lm_head), decode_unit_heads(layout_), arch_);
  device_->load(*program.layout);  // unloads the previous program, which must live until then
  program_ = std::move(program);
  kernels::decode_preset_cache(*program_.layout, context);
  device_->launch("decode");
  const RunReport rep = device_->run();
  if (!rep.completed || !kernels::decode_finished(*program_.layout))
    throw std::runtime_error("decode timing: the step with " + std::to_string(layers) + " layers at context " +
                             std::to_string(context) + " did not finish");
  ++simulations_;
  UnitTiming u{rep.cycles, kernels::decode_layer_ends(*program_.layout),
               kernels::decode_phase_cycles(*program_.layout, 0, layout_.height - 1)};
  for (std::uint64_t& e : u.layer_ends) e = e > rep.launch_cycle ? e - rep.launch_cycle : 0;
  cache_.put(key(layers, context, lm_head), u.cycles, {{"layer_ends", u.layer_ends}, {"phases", u.phases}});
  return u;
}

DecodeTiming DecodeTimer::time(std::uint64_t context, std::uint64_t new_tokens) {
  if (new_tokens < 1) throw ConfigError("decode timing: at least one new token");
  DecodeTiming t;
  t.kv_slots = slots_;
  t.stages = int(plan_.stages.size());
  t.note = plan_.fabric_note();
  t.handoff_cycles = plan_.handoff_cycles();
  // One simulation per context: the program with 2 layers and lm_head (1 layer when the model has one). Its last
  // PE finishes layer 0 at e0 and layer 1 at e1 (from the launch), the step ends at T: one layer in steady state is
  // e1 - e0 (including its overlap with its neighbours), a stage of n layers without lm_head takes
  // e0 + (n - 1)(e1 - e0), the stage with lm_head T + (n - 2)(e1 - e0). Where 2 layers and lm_head do not fit a
  // PE's SRAM together (the stages do: the last holds fewer layers), two simulations: 2 layers without lm_head
  // (e0, e1) and 1 layer with it (T1); the stage with lm_head then takes T1 + (n - 1)(e1 - e0). Where not even 2
  // layers without lm_head fit (every stage holds one layer), 1 layer without it gives e0 and no layer repeats.
  const std::uint32_t n = std::min<std::uint32_t>(2, std::uint32_t(config_.num_hidden_layers));
  auto token = [&](std::uint64_t c, bool first) {
    UnitTiming u, head;
    std::uint32_t head_layers = n, layers = n;
    try {
      u = head = unit(n, c);
    } catch (const CapacityError&) {
      if (n < 2 || c >= max_context()) throw;
      head = unit(1, c, true);
      head_layers = 1;
      try {
        u = unit(n, c, false);
      } catch (const CapacityError&) {
        u = unit(1, c, false);
        layers = 1;
      }
    }
    const std::int64_t e0 = std::int64_t(u.layer_ends[0]), e1 = std::int64_t(u.layer_ends[1]);
    const std::int64_t per_layer = layers == 2 ? std::max<std::int64_t>(0, e1 - e0) : 0;
    std::int64_t total = std::int64_t(t.handoff_cycles);
    for (const Stage& st : plan_.stages)
      total += st.lm_head ? std::int64_t(head.cycles) + (st.layers - std::int64_t(head_layers)) * per_layer
                          : e0 + (st.layers - 1) * per_layer;
    if (first) {
      t.layer_cycles_first = std::uint64_t(per_layer);
      t.head_cycles_first =
          std::uint64_t(std::max<std::int64_t>(0, std::int64_t(head.cycles) - std::int64_t(head_layers) * per_layer));
      t.layer_phase_cycles_first.clear();
      for (const auto& [name, cycles] : u.phases)
        if (name != "final rmsnorm" && name != "lm_head") t.layer_phase_cycles_first.emplace_back(name, cycles / layers);
      for (const auto& [name, cycles] : head.phases)
        if (name == "final rmsnorm" || name == "lm_head") t.layer_phase_cycles_first.emplace_back(name, cycles);
    }
    return std::uint64_t(total);
  };
  t.first_token_cycles = token(context, true);
  t.last_token_cycles = new_tokens > 1 ? token(context + new_tokens - 1, false) : t.first_token_cycles;
  t.mean_token_cycles = 0.5 * double(t.first_token_cycles + t.last_token_cycles);
  t.simulations = simulations_;
  t.cached = hits_;
  return t;
}

}  // namespace wafersim::runtime
