#include "runtime/wafer_backend.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "firmware/kernels/dist_gemm_t.hpp"
#include "models/cpu_ops.hpp"
#include "runtime/planner.hpp"

namespace wafersim::runtime {
namespace {

constexpr std::uint32_t kDefaultMaxSlots = 4096;

std::vector<csl::f16> to_f16(const std::vector<float>& v) {
  std::vector<csl::f16> h(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) h[i] = csl::f16(v[i]);
  return h;
}

// The row of the fused [W_q; W_k; W_v] ([q_dim + 2 kv_dim, hidden], HF order) that local q|k|v element i of column
// c holds, or -1 for padding.
int64_t fused_row(const DecodeLayout& l, int c, std::uint32_t i) {
  const int64_t hd = l.config.head_dim;
  const std::uint32_t q = l.q_per_pe(), kv = l.kv_per_pe();
  std::uint32_t j, comp;
  int64_t head, base;
  if (i < q) {
    j = i / (2 * l.group);
    comp = i % 2;
    if (j >= l.valid_units(c)) return -1;
    head = int64_t((l.units.first(c) + j) / l.half) * l.group + (i / 2) % l.group;
    base = 0;
  } else {
    const std::uint32_t k = i - q, section = k / kv;  // 0: K, 1: V
    j = (k % kv) / 2;
    comp = k % 2;
    if (j >= l.valid_units(c)) return -1;
    head = int64_t((l.units.first(c) + j) / l.half);
    base = l.config.q_dim() + section * l.config.kv_dim();
  }
  const int64_t dim = int64_t((l.units.first(c) + j) % l.half) + comp * l.half;
  return base + head * hd + dim;
}

// Hidden index of element i of row block r, or -1 for padding (likewise for the other splits).
int64_t at(const kernels::Split& s, int block, std::uint32_t i) {
  return i < s.valid(block) ? int64_t(s.first(block) + i) : -1;
}

std::vector<float> f32(const models::FloatTensor& t) {
  if (t.empty()) return {};
  const models::FloatTensor c = t.to_f32();
  return {c.data(), c.data() + c.size()};
}

}  // namespace

int prefill_side(const DecodeLayout& l) { return std::min(l.width, l.height); }

std::uint64_t prefill_sram_bytes_per_pe(const DecodeLayout& l, std::uint32_t tokens, bool fp32_accumulate) {
  if (tokens == 0) return 0;
  const models::LlamaConfig& c = l.config;
  const auto E = std::uint32_t(c.hidden_size), q = std::uint32_t(c.q_dim()), kv = std::uint32_t(c.kv_dim()),
             F = std::uint32_t(c.intermediate_size), hd = std::uint32_t(c.head_dim);
  const auto gemm = [&](std::uint32_t k, std::uint32_t n) {
    return kernels::GemmConfig{.P = prefill_side(l), .m = tokens, .k = k, .n = n, .fp32_accumulate = fp32_accumulate};
  };
  return std::max({kernels::shift_gemm_sram_bytes(gemm(E, q + 2 * kv)), kernels::shift_gemm_sram_bytes(gemm(q, E)),
                   kernels::shift_gemm_sram_bytes(gemm(E, 2 * F)), kernels::shift_gemm_sram_bytes(gemm(F, E)),
                   kernels::shift_gemm_sram_bytes(gemm(tokens, hd)),
                   kernels::dist_gemm_t_sram_bytes(gemm(hd, tokens))});
}

std::uint32_t decode_kv_slots(const Plan& p, std::uint32_t requested) {
  if (requested > p.kv_slots_per_pe)
    throw CapacityError(p.model + ": " + std::to_string(requested) + " KV tokens per PE do not fit beside the layers " +
                        (p.stages.size() > 1 ? "of the tightest of " + std::to_string(p.stages.size()) + " stages " : "") +
                        "on " + std::to_string(p.width) + "x" + std::to_string(p.height) + " PEs (at most " +
                        std::to_string(p.kv_slots_per_pe) + " within the " + std::to_string(p.sram_limit) +
                        "-byte limit)");
  return requested ? requested : std::min(p.kv_slots_per_pe, kDefaultMaxSlots);
}

kernels::DecodeShape decode_shape(const DecodeLayout& l, std::uint32_t layers, std::uint32_t slots,
                                  const WaferOptions& options, bool lm_head) {
  const models::LlamaConfig& c = l.config;
  return {.width = l.width, .height = l.height, .hidden = l.hidden_per_pe(),
          .hidden_total = std::uint32_t(c.hidden_size), .units = l.units.block, .group = l.group,
          .q_heads = l.q_heads(), .ffn = l.ffn_per_pe(), .vocab = l.vocab_per_pe(), .lm_head = lm_head,
          .layers = layers, .slots = slots, .qkv_bias = c.attention_bias, .rms_eps = float(c.rms_norm_eps),
          .score_scale = float(1.0 / std::sqrt(double(c.head_dim))), .fp32_accumulate = options.fp32_accumulate,
          .kv_policy = options.kv_policy};
}

std::vector<std::vector<int>> decode_unit_heads(const DecodeLayout& l) {
  std::vector<std::vector<int>> heads(std::size_t(l.width));
  for (int col = 0; col < l.width; ++col)
    for (std::uint32_t j = 0; j < l.units.block; ++j)
      heads[std::size_t(col)].push_back(j < l.valid_units(col) ? int((l.units.first(col) + j) / l.half) : -1);
  return heads;
}

WaferBackend::WaferBackend(std::shared_ptr<const models::LlamaWeights> weights, const std::string& model_name,
                           const hw::ArchParams& arch, WaferOptions options)
    : weights_(std::move(weights)), arch_(arch), options_(options) {
  const models::LlamaConfig& c = weights_->config;
  layout_ = decode_layout(c, model_name, options.width, options.height, arch);
  plan_ = plan_decode(c, model_name, options.width, options.height, arch, Regions::Fabric);
  const std::uint32_t slots = decode_kv_slots(plan_, options.kv_slots);
  int fabric_w = 0, fabric_h = 0;  // the stages' bounding box
  for (const Stage& st : plan_.stages) {
    kernels::DecodeShape shape = decode_shape(layout_, std::uint32_t(st.layers), slots, options, st.lm_head);
    stages_.push_back({st, shape, kernels::llama_decode(shape, decode_unit_heads(layout_), arch)});
    fabric_w = std::max(fabric_w, st.x0 + options.width);
    fabric_h = std::max(fabric_h, st.y0 + options.height);
  }
  device_ = std::make_unique<Device>(arch, fabric_w, fabric_h);
  for (StageProgram& st : stages_) {
    device_->load_beside(*st.program.layout, st.stage.x0, st.stage.y0);
    write_weights(st);
  }
}

WaferBackend::~WaferBackend() = default;

void WaferBackend::write_weights(StageProgram& st) {
  device_->select(*st.program.layout);
  const models::LlamaWeights& w = *weights_;
  const DecodeLayout& l = layout_;
  const std::uint32_t e = l.hidden_per_pe(), qkv = l.qkv_per_pe(), q = l.q_per_pe(), f = l.ffn_per_pe(),
                      v = l.vocab_per_pe();
  const int64_t E = l.config.hidden_size, F = l.config.intermediate_size;
  const int64_t q_dim = l.config.q_dim(), kv_dim = l.config.kv_dim();
  const std::vector<double> inv_freq = models::cpu::rope_inv_freq(l.config);
  for (int col = 0; col < l.width; ++col) {
    std::vector<int64_t> rows(qkv);
    for (std::uint32_t i = 0; i < qkv; ++i) rows[i] = fused_row(l, col, i);
    std::vector<float> freq(l.units.block, 0.0f);
    for (std::uint32_t j = 0; j < l.valid_units(col); ++j) freq[j] = float(inv_freq[(l.units.first(col) + j) % l.half]);
    for (int r = 0; r < l.height; ++r) {
      device_->write<float>("rope_freq", col, r, freq);
      for (int li = 0; li < st.stage.layers; ++li) {  // the stage's layers, numbered from 0 in its program
        const models::LayerWeights& L = w.layers[std::size_t(st.stage.first_layer + li)];
        const std::string n = "." + std::to_string(li);
        auto fused = [&](int64_t row, int64_t k) {  // [W_q; W_k; W_v][row][k]
          if (row < q_dim) return L.wq[std::size_t(row * E + k)];
          if (row < q_dim + kv_dim) return L.wk[std::size_t((row - q_dim) * E + k)];
          return L.wv[std::size_t((row - q_dim - kv_dim) * E + k)];
        };
        std::vector<float> wqkv(std::size_t(e) * qkv, 0.0f), wo(std::size_t(q) * e, 0.0f),
            wgu(std::size_t(e) * 2 * f, 0.0f), wd(std::size_t(f) * e, 0.0f), n1(e, 0.0f), n2(e, 0.0f);
        for (std::uint32_t i = 0; i < e; ++i) {
          const int64_t k = at(l.hidden, r, i);
          if (k < 0) continue;
          n1[i] = L.input_norm[std::size_t(k)];
          n2[i] = L.post_norm[std::size_t(k)];
          for (std::uint32_t jl = 0; jl < qkv; ++jl)
            if (rows[jl] >= 0) wqkv[std::size_t(i) * qkv + jl] = fused(rows[jl], k);
          for (std::uint32_t qi = 0; qi < q; ++qi)  // W_o [E, q_dim]: input q element rows[qi]
            if (rows[qi] >= 0) wo[std::size_t(qi) * e + i] = L.wo[std::size_t(k * q_dim + rows[qi])];
          for (std::uint32_t jf = 0; jf < f; ++jf) {
            const int64_t fi = at(l.ffn, col, jf);
            if (fi < 0) continue;
            wgu[std::size_t(i) * 2 * f + jf] = L.w_gate[std::size_t(fi * E + k)];
            wgu[std::size_t(i) * 2 * f + f + jf] = L.w_up[std::size_t(fi * E + k)];
            wd[std::size_t(jf) * e + i] = L.w_down[std::size_t(k * F + fi)];
          }
        }
        device_->write<csl::f16>("Wqkv" + n, col, r, to_f16(wqkv));
        device_->write<csl::f16>("Wo" + n, col, r, to_f16(wo));
        device_->write<csl::f16>("Wgu" + n, col, r, to_f16(wgu));
        device_->write<csl::f16>("Wd" + n, col, r, to_f16(wd));
        device_->write<float>("norm_attn" + n, col, r, n1);
        device_->write<float>("norm_ffn" + n, col, r, n2);
        if (l.config.attention_bias) {
          std::vector<float> b(qkv, 0.0f);
          for (std::uint32_t jl = 0; jl < qkv; ++jl) {
            const int64_t row = rows[jl];
            if (row < 0) continue;
            b[jl] = row < q_dim ? L.bq[std::size_t(row)]
                    : row < q_dim + kv_dim ? L.bk[std::size_t(row - q_dim)] : L.bv[std::size_t(row - q_dim - kv_dim)];
          }
          device_->write<float>("bqkv" + n, col, r, b);
        }
      }
      if (!st.stage.lm_head) continue;
      const models::FloatTensor& lm = w.output_weights();
      std::vector<float> wlm(std::size_t(e) * v, 0.0f), nf(e, 0.0f);
      for (std::uint32_t i = 0; i < e; ++i) {
        const int64_t k = at(l.hidden, r, i);
        if (k < 0) continue;
        nf[i] = w.final_norm[std::size_t(k)];
        for (std::uint32_t jv = 0; jv < v; ++jv) {
          const int64_t vi = at(l.vocab, col, jv);
          if (vi >= 0) wlm[std::size_t(i) * v + jv] = lm[std::size_t(vi * E + k)];
        }
      }
      device_->write<float>("norm_f", col, r, nf);
      device_->write<csl::f16>("Wlm", col, r, to_f16(wlm));
    }
  }
}

std::vector<float> WaferBackend::step(int32_t token) {
  const DecodeLayout& l = layout_;
  const models::LlamaConfig& c = l.config;
  if (token < 0 || token >= c.vocab_size)
    throw ConfigError("wafer backend: token " + std::to_string(token) + " is outside the vocabulary (" +
                      std::to_string(c.vocab_size) + ")");
  if (std::uint64_t(length_) >= max_tokens())
    throw CapacityError("wafer backend: the " + std::string(kernels::to_string(options_.kv_policy)) +
                        " KV cache holds " + std::to_string(max_tokens()) + " tokens (" +
                        std::to_string(kv_slots()) + " per PE); position " + std::to_string(length_) +
                        " does not fit");
  const std::uint32_t pos = std::uint32_t(length_);
  const int64_t E = c.hidden_size;
  // The first stage's input: the token's embedding row, block r for row r; a later stage's: the residual stream
  // the stage before it ended with (the handoff).
  std::vector<std::vector<float>> x(std::size_t(l.height), std::vector<float>(l.hidden_per_pe(), 0.0f));
  for (int r = 0; r < l.height; ++r)
    for (std::uint32_t i = 0; i < l.hidden_per_pe(); ++i) {
      const int64_t k = at(l.hidden, r, i);
      if (k >= 0) x[std::size_t(r)][i] = weights_->embed[std::size_t(int64_t(token) * E + k)];
    }
  std::uint64_t cycles = plan_.handoff_cycles();
  for (std::size_t s = 0; s < stages_.size(); ++s) {
    StageProgram& st = stages_[s];
    device_->select(*st.program.layout);
    for (int r = 0; r < l.height; ++r)
      for (int col = 0; col < l.width; ++col) {
        device_->write<float>("x", col, r, x[std::size_t(r)]);
        device_->write<std::uint32_t>("position", col, r, {pos});
      }
    device_->launch("decode");
    const RunReport rep = device_->run();
    if (!rep.completed || !kernels::decode_finished(*st.program.layout))
      throw std::runtime_error("wafer backend: the decode step at position " + std::to_string(pos) +
                               (stages_.size() > 1 ? " on stage " + std::to_string(s) : std::string()) +
                               " did not finish");
    st.last_cycles = rep.cycles;
    cycles += rep.cycles;
    if (!st.stage.lm_head)  // the residual stream, replicated along X: column 0's blocks
      for (int r = 0; r < l.height; ++r) x[std::size_t(r)] = device_->read<float>("x", 0, r);
  }
  last_cycles_ = cycles;
  ++length_;
  std::vector<float> logits(std::size_t(c.vocab_size));  // the last stage's, still selected
  for (int col = 0; col < l.width; ++col) {
    const auto block = device_->read<float>("logits", col, 0);
    for (std::uint32_t jv = 0; jv < l.vocab.valid(col); ++jv) logits[l.vocab.first(col) + jv] = block[jv];
  }
  return logits;
}

void WaferBackend::prefill_on_wafer(const std::vector<int32_t>& tokens) {
  const DecodeLayout& l = layout_;
  const models::LlamaConfig& c = l.config;
  const int P = prefill_side(l);
  const auto n = std::uint32_t(tokens.size());
  const int64_t E = c.hidden_size, kvd = c.kv_dim(), q_dim = c.q_dim();
  const kernels::PrefillShape shape = prefill_shape(c, P, n, options_.fp32_accumulate);
  std::vector<float> x(std::size_t(n) * std::size_t(E));
  for (std::uint32_t t = 0; t < n; ++t)
    weights_->embed.row_to_f32(std::size_t(tokens[t]), std::size_t(E), &x[std::size_t(t) * std::size_t(E)]);
  std::vector<std::vector<float>> k(weights_->layers.size()), v(weights_->layers.size());
  for (std::size_t li = 0; li < weights_->layers.size(); ++li) {
    const models::LayerWeights& L = weights_->layers[li];
    const kernels::PrefillWeights pw{f32(L.input_norm), f32(L.wq),        f32(L.wk),   f32(L.wv),
                                     f32(L.bq),         f32(L.bk),        f32(L.bv),   f32(L.wo),
                                     f32(L.post_norm),  f32(L.w_gate),    f32(L.w_up), f32(L.w_down)};
    kernels::PrefillResult r;
    try {
      r = kernels::llama_prefill_layer(shape, pw, x, arch_);
    } catch (const CapacityError& e) {
      throw CapacityError("wafer backend: the prefill of " + std::to_string(n) + " prompt tokens on the " +
                          std::to_string(P) + "x" + std::to_string(P) + " prefill region (the square of the " +
                          std::to_string(l.width) + "x" + std::to_string(l.height) +
                          " region) does not fit: " + e.what() + "; use a larger mesh or a shorter prompt");
    }
    x = std::move(r.out);
    k[li] = std::move(r.k);
    v[li] = std::move(r.v);
    prefill_run_cycles_ += r.cycles;
    prefill_sram_ = std::max(prefill_sram_, r.sram_bytes_per_pe_max);
    for (const kernels::PrefillKernelCycles& kc : r.kernels) {
      auto it = std::find_if(prefill_kernels_.begin(), prefill_kernels_.end(),
                             [&](const auto& p) { return p.first == kc.kernel; });
      if (it == prefill_kernels_.end()) prefill_kernels_.emplace_back(kc.kernel, kc.cycles);
      else it->second += kc.cycles;
    }
  }
  // The hand-over: local K/V element j of column `col` is element fused_row - q_dim of a token's HF K (or V) row;
  // layer first_layer + li goes to layer li of its stage's cache.
  for (int col = 0; col < l.width; ++col) {
    std::vector<int64_t> hf(l.kv_per_pe());  // the same on every stage
    for (std::uint32_t j = 0; j < l.kv_per_pe(); ++j) {
      const int64_t row = fused_row(l, col, l.q_per_pe() + j);
      hf[j] = row < 0 ? -1 : row - q_dim;
    }
    for (StageProgram& st : stages_)
      for (int r = 0; r < l.height; ++r) {
        kernels::KvCacheModule& cache = kernels::decode_kv_cache(*st.program.layout, col, r);
        for (int li = 0; li < st.stage.layers; ++li) {
          const std::size_t g = std::size_t(st.stage.first_layer + li);
          cache.preload(li, n, [&](std::uint64_t pos, std::uint32_t j, bool is_v) {
            return hf[j] < 0 ? 0.0f : (is_v ? v : k)[g][std::size_t(pos * std::uint64_t(kvd) + std::uint64_t(hf[j]))];
          });
        }
      }
  }
  int stage_layers = 0;
  for (const StageProgram& st : stages_) stage_layers = std::max(stage_layers, st.stage.layers);
  // The stages hand over in parallel, each inside its region: the one with the most layers sets the time.
  handover_ = kv_handover(l, options_.kv_policy, P, n, stage_layers, arch_);
  // Each stage's layers were prefilled on the P x P square at its origin: the same stages in both layouts.
  relayout_ = weight_relayout(P, plan_.stages, l, plan_.stages, arch_);
  length_ = int64_t(n);
}

std::vector<float> WaferBackend::prefill(const std::vector<int32_t>& tokens) {
  if (tokens.empty()) throw ConfigError("wafer backend: prefill needs at least one token");
  if (length_ > 0) throw std::logic_error("wafer backend: one sequence per backend (the cache has no reset)");
  for (int32_t t : tokens)
    if (t < 0 || t >= weights_->config.vocab_size)
      throw ConfigError("wafer backend: prompt token " + std::to_string(t) + " is outside the vocabulary (" +
                        std::to_string(weights_->config.vocab_size) + ")");
  if (tokens.size() > max_tokens())
    throw CapacityError("wafer backend: the " + std::string(kernels::to_string(options_.kv_policy)) + " KV cache holds " +
                        std::to_string(max_tokens()) + " tokens (" + std::to_string(kv_slots()) +
                        " per PE), fewer than the prompt's " + std::to_string(tokens.size()));
  if (tokens.size() > 1) prefill_on_wafer({tokens.begin(), tokens.end() - 1});
  std::vector<float> logits = step(tokens.back());  // the last prompt token: a decode step, on-wafer logits
  prefill_step_cycles_ = last_cycles_;
  return logits;
}

std::vector<float> WaferBackend::decode(int32_t token) {
  if (length_ == 0) throw std::logic_error("wafer backend: decode before prefill");
  std::vector<float> logits = step(token);
  decode_cycles_ += last_cycles_;
  ++decode_steps_;
  decode_macs_ += layout_.decode_macs(std::uint64_t(length_));  // the step attended to every token so far
  for (StageProgram& st : stages_) {
    st.decode_cycles += st.last_cycles;
    for (const auto& [name, cycles] : kernels::decode_phase_cycles(*st.program.layout, 0, layout_.height - 1)) {
      auto it = std::find_if(phase_cycles_.begin(), phase_cycles_.end(), [&](const auto& p) { return p.first == name; });
      if (it == phase_cycles_.end()) phase_cycles_.emplace_back(name, cycles);
      else it->second += cycles;
    }
  }
  return logits;
}

std::vector<std::uint64_t> WaferBackend::decode_stage_cycles() const {
  std::vector<std::uint64_t> v;
  for (const StageProgram& st : stages_) v.push_back(st.decode_cycles);
  return v;
}

std::uint64_t WaferBackend::max_tokens() const {
  return kernels::kv_capacity_tokens({.height = layout_.height, .slots = kv_slots(), .policy = options_.kv_policy});
}

double WaferBackend::decode_compute_utilisation() const {
  const double width = options_.fp32_accumulate ? arch_.pe.simd.fmachs : arch_.pe.simd.fmach;
  const double capacity =
      double(stages_.size()) * layout_.width * layout_.height * double(decode_cycles_) * width;
  return capacity > 0 ? double(decode_macs_) / capacity : 0.0;
}

int WaferBackend::colors_per_pe_max() const {
  int m = 0;
  for (const StageProgram& st : stages_) m = std::max(m, st.program.colors_per_pe_max);
  return m;
}

std::uint32_t WaferBackend::sram_bytes_per_pe_max() const {
  std::uint32_t m = 0;
  for (const StageProgram& st : stages_) {
    device_->select(*st.program.layout);
    for (const PeStats& s : device_->pe_stats()) m = std::max(m, s.sram_bytes_used);
  }
  return m;
}

std::string WaferBackend::describe() const {
  return "wafer (" + std::to_string(layout_.width) + "x" + std::to_string(layout_.height) + " PEs" +
         (stages_.size() > 1 ? " x " + std::to_string(stages_.size()) + " stages" : std::string()) + ", " +
         arch_.name + ", " + (options_.fp32_accumulate ? "fp32" : "fp16") + " accumulation, " +
         kernels::to_string(options_.kv_policy) + " KV cache of " + std::to_string(kv_slots()) + " tokens per PE)";
}

}  // namespace wafersim::runtime
