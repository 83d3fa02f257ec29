#include "firmware/kernels/llama_decode.hpp"

#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>

#include "common/error.hpp"
#include "firmware/kernels/ktree_allreduce.hpp"

namespace wafersim::kernels {
namespace {

std::string layer_name(const char* base, std::uint32_t l) { return std::string(base) + "." + std::to_string(l); }

// A run of consecutive local pair units that belong to one KV head.
struct UnitRun {
  std::uint32_t first, count;
  int kv_head;
};

class DecodeProgram : public csl::Program {
 public:
  DecodeProgram(const DecodeShape& s, const std::vector<int>& unit_heads, PlanPtr rows, PlanPtr cols, KvPlanPtr kv,
                const hw::ScalarCostParams& cost, int x, int y)
      : s_(s), cost_(cost) {
    for (std::uint32_t j = 0; j < s.units; ++j) {
      const int g = unit_heads.at(j);
      if (g < 0) continue;
      if (!runs_.empty() && runs_.back().kv_head == g && runs_.back().first + runs_.back().count == j) ++runs_.back().count;
      else runs_.push_back({j, 1, g});
    }
    // The weights last: the working arrays and the cache sit at the same addresses whatever the number of layers (a
    // unit of 2 layers times as a full region does, memory banks included).
    rows_ = instantiate(this, "rows", std::move(rows), x, y);
    cols_ = instantiate(this, "cols", std::move(cols), x, y);
    kv_ = std::make_unique<KvCacheModule>(this, "kv", std::move(kv), y);
    const std::uint32_t e = s.hidden;
    for (std::uint32_t l = 0; l < s.layers; ++l) {
      Layer L;
      L.wqkv = std::make_unique<csl::Array<csl::f16>>(this, layer_name("Wqkv", l), e * s.qkv_per_pe());
      L.wo = std::make_unique<csl::Array<csl::f16>>(this, layer_name("Wo", l), s.q_per_pe() * e);
      L.wgu = std::make_unique<csl::Array<csl::f16>>(this, layer_name("Wgu", l), e * 2 * s.ffn);
      L.wd = std::make_unique<csl::Array<csl::f16>>(this, layer_name("Wd", l), s.ffn * e);
      L.norm_attn = std::make_unique<csl::Array<float>>(this, layer_name("norm_attn", l), e);
      L.norm_ffn = std::make_unique<csl::Array<float>>(this, layer_name("norm_ffn", l), e);
      if (s.qkv_bias) L.bqkv = std::make_unique<csl::Array<float>>(this, layer_name("bqkv", l), s.qkv_per_pe());
      layers_.push_back(std::move(L));
    }
    if (s.lm_head) {
      norm_f_ = std::make_unique<csl::Array<float>>(this, "norm_f", e);
      wlm_ = std::make_unique<csl::Array<csl::f16>>(this, "Wlm", e * s.vocab);
      logits_ = std::make_unique<csl::Array<float>>(this, "logits", s.vocab);
    }
  }
  const KvCacheModule& kv() const { return *kv_; }
  KvCacheModule& kv() { return *kv_; }
  std::string name() const override { return "llama_decode"; }
  void init() override {
    export_function("decode", [this] {
      finished_ = false;
      layer_ = 0;
      phase_ = kNorm1;
      started_ = false;
      phase_cycles_.fill(0);
      layer_end_.fill(0);
      activate(step_);
    });
  }
  bool finished() const { return finished_; }
  // When this PE finished layers 0 and 1 of the last step (the residual of each; 0 when absent).
  const std::array<hw::Cycle, 2>& layer_ends() const { return layer_end_; }
  // Cycles of the last step by phase, at this PE: each phase's compute and the wait for its collective.
  std::vector<std::pair<std::string, std::uint64_t>> phase_cycles() const {
    static constexpr const char* kNames[] = {"rmsnorm", "qkv", "rope+append", "q.k", "softmax max", "softmax exp+sum",
                                             "score.v", "w_o", "rmsnorm", "up+gate", "swiglu+down", "residual",
                                             "final rmsnorm", "lm_head"};
    std::vector<std::pair<std::string, std::uint64_t>> out;
    for (int p = 0; p < kDone; ++p) {
      auto it = std::find_if(out.begin(), out.end(), [&](const auto& e) { return e.first == kNames[p]; });
      if (it == out.end()) out.emplace_back(kNames[p], phase_cycles_[std::size_t(p)]);
      else it->second += phase_cycles_[std::size_t(p)];
    }
    return out;
  }

 private:
  enum Phase { kNorm1, kQkv, kAppend, kScores, kMax, kSum, kScoreV, kWo, kNorm2, kUpGate, kDown, kResidual, kFinalNorm,
               kLmHead, kDone };
  struct Layer {
    std::unique_ptr<csl::Array<csl::f16>> wqkv, wo, wgu, wd;
    std::unique_ptr<csl::Array<float>> norm_attn, norm_ffn, bqkv;
  };

  static csl::MemDsd part(const csl::ArrayBase& a, std::uint32_t n, std::uint32_t offset = 0) {
    return csl::mem1d(a, {.extent = n, .offset = std::int32_t(offset)});
  }

  // Runs phases until one starts an allreduce, whose completion runs this task again.
  void advance() {
    const DecodeShape& s = s_;
    const csl::Async next{.activate = step_};
    for (;;) {
      Layer& L = layers_[std::min<std::uint32_t>(layer_, s.layers - 1)];
      if (started_) phase_cycles_[std::size_t(current_)] += now() - mark_;  // the previous phase ends here
      started_ = true;
      mark_ = now();
      current_ = phase_;
      switch (phase_++) {
        case kNorm1:
          if (layer_ == 0) {
            pos_ = position_.value();
            charge(2);
          }
          norm_sum();
          cols_->allreduce(ss_, 1, next);
          return;
        case kQkv:
          norm_apply(*L.norm_attn);
          gemv(*L.wqkv, xn16_, s.hidden, s.qkv_per_pe(), qkv_);
          cols_->allreduce(qkv_, s.qkv_per_pe(), next);
          return;
        case kAppend:  // the new K and V go to the cache module (fp16 copies in buffers free until score.V)
          if (L.bqkv) fadds(qkv_, qkv_, *L.bqkv);
          rope();
          fs2h(part(acc16_, s.kv_per_pe()), part(qkv_, s.kv_per_pe(), s.q_per_pe()));
          fs2h(part(out16_, s.kv_per_pe()), part(qkv_, s.kv_per_pe(), s.q_per_pe() + s.kv_per_pe()));
          kv_->append(int(layer_), acc16_, out16_, next);
          return;
        case kScores:
          valid_ = kv_->fill(int(layer_));
          scores();
          if (valid_ == 0) continue;  // the whole row holds no cached slot: nothing to reduce along X
          rows_->allreduce(score_, s.q_heads * valid_, next);
          return;
        case kMax:
          fmovs(mx_, -FLT_MAX);
          if (valid_ > 0) {
            fmuls(part(score_, s.q_heads * valid_), part(score_, s.q_heads * valid_), s.score_scale);
            for (std::uint32_t h = 0; h < s.q_heads; ++h)
              fmaxs(csl::scalar(mx_, h), csl::scalar(mx_, h), part(score_, valid_, h * valid_));
          }
          cols_->allreduce(mx_, s.q_heads, next, ReduceOp::Max);
          return;
        case kSum:
          fmovs(sum_, 0.0f);
          if (valid_ > 0) {
            for (std::uint32_t h = 0; h < s.q_heads; ++h)
              fsubs(part(score_, valid_, h * valid_), part(score_, valid_, h * valid_), csl::scalar(mx_, h));
            map(part(score_, s.q_heads * valid_), part(score_, s.q_heads * valid_),
                [](float v) { return std::exp(v); }, hw::Cycle(cost_.exp));
            for (std::uint32_t h = 0; h < s.q_heads; ++h)
              fadds(csl::scalar(sum_, h), csl::scalar(sum_, h), part(score_, valid_, h * valid_));
          }
          cols_->allreduce(sum_, s.q_heads, next);
          return;
        case kScoreV:
          score_v();
          cols_->allreduce(out_, s.q_per_pe(), next);
          return;
        case kWo:
          fs2h(out16_, out_);
          gemv(*L.wo, out16_, s.q_per_pe(), s.hidden, hy_);
          rows_->allreduce(hy_, s.hidden, next);
          return;
        case kNorm2:
          fadds(x_, x_, hy_);
          norm_sum();
          cols_->allreduce(ss_, 1, next);
          return;
        case kUpGate:
          norm_apply(*L.norm_ffn);
          gemv(*L.wgu, xn16_, s.hidden, 2 * s.ffn, ffn_);
          cols_->allreduce(ffn_, 2 * s.ffn, next);
          return;
        case kDown: {
          const auto gate = part(ffn_, s.ffn), up = part(ffn_, s.ffn, s.ffn);
          map(gate, gate, [](float v) { return v / (1.0f + std::exp(-v)); }, hw::Cycle(cost_.silu));
          fmuls(gate, gate, up);
          fs2h(ffn16_, gate);
          gemv(*L.wd, ffn16_, s.ffn, s.hidden, hy_);
          rows_->allreduce(hy_, s.hidden, next);
          return;
        }
        case kResidual:
          fadds(x_, x_, hy_);
          if (layer_ < layer_end_.size()) layer_end_[layer_] = now();
          if (++layer_ < s.layers) phase_ = kNorm1;
          continue;
        case kFinalNorm:
          if (!s.lm_head) {
            phase_ = kDone;
            continue;
          }
          norm_sum();
          cols_->allreduce(ss_, 1, next);
          return;
        case kLmHead:
          norm_apply(*norm_f_);
          gemv(*wlm_, xn16_, s.hidden, s.vocab, *logits_);
          cols_->allreduce(*logits_, s.vocab, next);
          return;
        case kDone:
          finished_ = true;
          return;
      }
    }
  }

  // hy = x * x, ss = sum(hy): this PE's part of the mean square.
  void norm_sum() {
    fmuls(hy_, x_, x_);
    fmovs(ss_, 0.0f);
    fadds(&ss_, &ss_, hy_);
  }
  // xn16 = fp16(x * rsqrt(ss / E + eps) * w), ss being the allreduced sum of squares.
  void norm_apply(const csl::Array<float>& w) {
    ss_ = float(1.0 / std::sqrt(double(ss_.value()) / s_.hidden_total + double(s_.rms_eps)));
    charge(hw::Cycle(cost_.rsqrt));
    fmuls(hy_, x_, &ss_);
    fmuls(hy_, hy_, w);
    fs2h(xn16_, hy_);
  }
  // y[0..n) = sum_r in[r] * W[r][0..n) (W row-major [k x n]): fmachs into y, or fmach into the fp16 accumulator.
  void gemv(const csl::Array<csl::f16>& w, const csl::Array<csl::f16>& in, std::uint32_t k, std::uint32_t n,
            csl::Array<float>& y) {
    const auto yd = part(y, n);
    if (s_.fp32_accumulate) {
      fmovs(yd, 0.0f);
      for (std::uint32_t r = 0; r < k; ++r) fmachs(yd, yd, part(w, n, r * n), csl::scalar(in, r));
    } else {
      const auto acc = part(acc16_, n);
      fmovh(acc, csl::f16(0.0f));
      for (std::uint32_t r = 0; r < k; ++r) fmach(acc, acc, part(w, n, r * n), csl::scalar(in, r));
      fh2s(yd, acc);
    }
  }
  // Rotates the (dim i, dim i + half) pairs of q and k by position * inv_freq of their unit.
  void rope() {
    const double pos = double(pos_);
    map(cos_, freq_, [pos](float f) { return float(std::cos(pos * double(f))); }, hw::Cycle(cost_.trig));
    map(sin_, freq_, [pos](float f) { return float(std::sin(pos * double(f))); }, hw::Cycle(cost_.trig));
    const std::uint32_t u = s_.units, g = s_.group;
    auto rotate = [&](std::uint32_t offset, std::uint32_t heads) {
      const std::uint32_t n = u * heads;
      const auto a = csl::mem4d(qkv_, {heads, u, 1, 1}, {2, std::int32_t(2 * heads), 0, 0}, std::int32_t(offset));
      const auto b = csl::increment_offset(a, 1);
      const auto c = csl::mem4d(cos_, {heads, u, 1, 1}, {0, 1, 0, 0});
      const auto sn = csl::mem4d(sin_, {heads, u, 1, 1}, {0, 1, 0, 0});
      const auto t1 = part(out_, n), t2 = part(out_, n, n);  // out_ is free until score.V
      fmuls(t1, a, c);
      fmuls(t2, b, sn);
      fsubs(t1, t1, t2);  // a cos - b sin
      fmuls(t2, a, sn);
      fmuls(b, b, c);
      fadds(b, b, t2);    // b cos + a sin
      fmovs(a, t1);
    };
    rotate(0, g);                // q: (j * group + m) * 2 + c
    rotate(s_.q_per_pe(), 1);    // k: j * 2 + c
    fs2h(q16_, part(qkv_, s_.q_per_pe()));
  }
  // The row's cached entries as at most two runs of slots (a ring: the i-th oldest is in slot (head + i) mod slots),
  // each {first slot, count}, in age order.
  std::array<std::pair<std::uint32_t, std::uint32_t>, 2> segments() const {
    const std::uint32_t head = kv_->slot(int(layer_), 0), first = std::min(valid_, s_.slots - head);
    return {{{head, first}, {0, valid_ - first}}};
  }
  std::uint32_t k_offset(std::uint32_t dim, std::uint32_t slot) const { return kv_->k_index(int(layer_), slot, dim); }
  std::uint32_t v_offset(std::uint32_t slot) const { return kv_->v_index(int(layer_), slot, 0); }

  // score[h][i] = sum over this column's pairs of query head h: q . K of the row's i-th oldest cached entry.
  void scores() {
    if (valid_ == 0) return;
    const std::uint32_t n = s_.q_heads * valid_, g = s_.group;
    if (s_.fp32_accumulate) fmovs(part(score_, n), 0.0f);
    else fmovh(part(p16_, n), csl::f16(0.0f));
    for (const UnitRun& run : runs_)
      for (std::uint32_t j = run.first; j < run.first + run.count; ++j)
        for (std::uint32_t m = 0; m < g; ++m) {
          const std::uint32_t h = std::uint32_t(run.kv_head) * g + m;
          for (std::uint32_t c = 0; c < 2; ++c) {
            const auto q = csl::scalar(q16_, (j * g + m) * 2 + c);
            std::uint32_t i = 0;
            for (const auto& [slot, count] : segments()) {
              if (count == 0) continue;
              const auto k = part(kv_->k(), count, k_offset(j * 2 + c, slot));
              if (s_.fp32_accumulate) fmachs(part(score_, count, h * valid_ + i), part(score_, count, h * valid_ + i), k, q);
              else fmach(part(p16_, count, h * valid_ + i), part(p16_, count, h * valid_ + i), k, q);
              i += count;
            }
          }
        }
    if (!s_.fp32_accumulate) fh2s(part(score_, n), part(p16_, n));
  }
  // p = score / sum per head; out pairs of query head h += p[h][t] * V[t] pairs of its KV head, for each slot t.
  void score_v() {
    const std::uint32_t g = s_.group, q = s_.q_per_pe();
    if (s_.fp32_accumulate) fmovs(out_, 0.0f);
    else fmovh(part(acc16_, q), csl::f16(0.0f));
    if (valid_ > 0) {
      map(sum_, sum_, [](float v) { return 1.0f / v; }, hw::Cycle(cost_.reciprocal));
      for (std::uint32_t h = 0; h < s_.q_heads; ++h)
        fmuls(part(score_, valid_, h * valid_), part(score_, valid_, h * valid_), csl::scalar(sum_, h));
      fs2h(part(p16_, s_.q_heads * valid_), part(score_, s_.q_heads * valid_));
      for (std::uint32_t t = 0; t < valid_; ++t)
        for (const UnitRun& run : runs_)
          for (std::uint32_t m = 0; m < g; ++m) {
            const std::uint32_t h = std::uint32_t(run.kv_head) * g + m;
            const std::int32_t at = std::int32_t((run.first * g + m) * 2);
            const auto v = part(kv_->v(), 2 * run.count, v_offset((kv_->slot(int(layer_), t))) + run.first * 2);
            const auto p = csl::scalar(p16_, h * valid_ + t);
            if (s_.fp32_accumulate) {
              const auto d = csl::mem4d(out_, {2, run.count, 1, 1}, {1, std::int32_t(2 * g), 0, 0}, at);
              fmachs(d, d, v, p);
            } else {
              const auto d = csl::mem4d(acc16_, {2, run.count, 1, 1}, {1, std::int32_t(2 * g), 0, 0}, at);
              fmach(d, d, v, p);
            }
          }
    }
    if (!s_.fp32_accumulate) fh2s(out_, part(acc16_, q));
  }

  DecodeShape s_;
  hw::ScalarCostParams cost_;  // cycles per element of the scalar functions (pe.scalar)
  std::vector<UnitRun> runs_;
  std::vector<Layer> layers_;
  std::unique_ptr<csl::Array<float>> norm_f_;
  std::unique_ptr<csl::Array<csl::f16>> wlm_;
  std::unique_ptr<csl::Array<float>> logits_;
  csl::Array<float> score_{this, "score", s_.q_heads * s_.slots};
  csl::Array<csl::f16> p16_{this, "p16", s_.q_heads * s_.slots};
  csl::Array<float> x_{this, "x", s_.hidden};
  csl::Array<csl::f16> xn16_{this, "xn16", s_.hidden};
  csl::Array<float> hy_{this, "hy", s_.hidden};
  csl::Array<float> qkv_{this, "qkv", s_.qkv_per_pe()};
  csl::Array<csl::f16> q16_{this, "q16", s_.q_per_pe()};
  csl::Array<float> out_{this, "out", s_.q_per_pe()};
  csl::Array<csl::f16> out16_{this, "out16", s_.q_per_pe()};
  csl::Array<float> ffn_{this, "ffn", 2 * s_.ffn};
  csl::Array<csl::f16> ffn16_{this, "ffn16", s_.ffn};
  csl::Array<csl::f16> acc16_{this, "acc16", std::max({s_.qkv_per_pe(), 2 * s_.ffn, s_.hidden, s_.vocab})};
  csl::Array<float> mx_{this, "max", s_.q_heads};
  csl::Array<float> sum_{this, "sum", s_.q_heads};
  csl::Array<float> freq_{this, "rope_freq", s_.units};
  csl::Array<float> cos_{this, "cos", s_.units};
  csl::Array<float> sin_{this, "sin", s_.units};
  csl::Var<float> ss_{this, "ss"};
  csl::Var<std::uint32_t> position_{this, "position"};
  std::unique_ptr<CollectiveModule> rows_, cols_;
  std::unique_ptr<KvCacheModule> kv_;
  std::uint32_t layer_ = 0, pos_ = 0, valid_ = 0;
  int phase_ = kDone, current_ = kDone;
  bool started_ = false;
  hw::Cycle mark_ = 0;
  std::array<std::uint64_t, kDone + 1> phase_cycles_{};
  std::array<hw::Cycle, 2> layer_end_{};
  bool finished_ = true;
  csl::LocalTask step_{this, [this] { advance(); }, "step"};
};

}  // namespace

DecodeProgramLayout llama_decode(const DecodeShape& s, const std::vector<std::vector<int>>& unit_kv_head,
                                 const hw::ArchParams& arch) {
  if (s.width < 1 || s.height < 1 || s.layers < 1 || s.slots < 1 || s.units < 1 || s.hidden < 1 || s.ffn < 1 ||
      s.vocab < 1)
    throw ConfigError("llama_decode: the region, layers, KV slots and every per-PE block must be at least 1");
  if (int(unit_kv_head.size()) != s.width)
    throw ConfigError("llama_decode: unit_kv_head needs one entry per column (" + std::to_string(s.width) + ")");
  DecodeProgramLayout d;
  d.shape = s;
  const std::uint32_t x_len = std::max(s.hidden, s.q_heads * s.slots);
  const std::uint32_t y_len = std::max({s.qkv_per_pe(), 2 * s.ffn, s.q_per_pe(), s.lm_head ? s.vocab : 1u, s.q_heads});
  CollectiveConfig cx{.width = s.width, .height = s.height, .axis = Axis::X, .length = x_len, .dtype = DType::F32,
                      .op = ReduceOp::Sum, .colors = s.colors};
  // Both sums are WaferLLM's K-tree (K = 2, G = round(sqrt(P)) groups): the X sum (3 per layer: q.K^T, W_o,
  // W_down) and the Y sum (6 per layer: the RMSNorm sums, the QKV, up/gate, score.V and lm_head GEMVs; also the
  // softmax max, ReduceOp::Max per call). A PE has 8 input queues and 8 microthreads, each queue bound to one colour:
  // a K-tree joining through loopbacks takes up to 4 input queues and 3 microthreads, the shift-based cache 1 input
  // queue and 2 microthreads, so 4 + 4 + 1 do not fit. Both K-trees join their two streams in memory (staged joins:
  // 3 input queues, 2 microthreads each; 3 + 3 + 1 input queues, IQ 0 stays free), which is also faster than a
  // loopback join (sc_tests/kernels/allreduce_timing_test.cpp).
  d.rows = ktree_plan(cx, arch, {.staged_joins = true});
  CollectiveConfig cy = cx;
  cy.axis = Axis::Y;
  cy.length = y_len;
  cy.colors = remaining_colors(*d.rows, s.colors, arch);
  d.cols = ktree_plan(cy, arch, {.staged_joins = true});
  d.kv = kv_cache_plan({.width = s.width, .height = s.height, .dims = s.kv_per_pe(), .slots = s.slots,
                        .layers = int(s.layers), .dtype = DType::F16, .policy = s.kv_policy,
                        .colors = remaining_colors(*d.cols, cy.colors, arch)},
                       arch);
  d.layout = std::make_unique<csl::Layout>(s.width, s.height);
  for (int y = 0; y < s.height; ++y)
    for (int x = 0; x < s.width; ++x)
      d.layout->set_tile_code(x, y, [s, heads = unit_kv_head.at(x), r = d.rows, c = d.cols, kv = d.kv,
                                     cost = arch.pe.scalar](int px, int py) {
        return std::make_unique<DecodeProgram>(s, heads, r, c, kv, cost, px, py);
      });
  d.rows->apply_routes(*d.layout, "rows");
  d.cols->apply_routes(*d.layout, "cols");
  d.kv->apply_routes(*d.layout, "kv");
  d.colors_per_pe_max = d.layout->max_colors_per_pe();
  const int budget = arch.router.routable_colors - int(arch.host_io.reserved_colors.size());
  if (d.colors_per_pe_max > budget)
    throw CapacityError("llama_decode: the allreduces and the KV cache need " + std::to_string(d.colors_per_pe_max) +
                        " colours at a PE, over the budget of " + std::to_string(budget) + " (" + arch.name + ")");
  for (const char* n : {"x", "position", "rope_freq", "kv.k", "kv.v", "qkv", "score", "out", "ffn", "xn16"})
    d.layout->export_symbol(n);
  for (std::uint32_t l = 0; l < s.layers; ++l) {
    for (const char* n : {"Wqkv", "Wo", "Wgu", "Wd", "norm_attn", "norm_ffn"})
      d.layout->export_symbol(layer_name(n, l));
    if (s.qkv_bias) d.layout->export_symbol(layer_name("bqkv", l));
  }
  if (s.lm_head)
    for (const char* n : {"norm_f", "Wlm", "logits"}) d.layout->export_symbol(n);
  return d;
}

std::vector<std::pair<std::string, std::uint64_t>> decode_phase_cycles(const csl::Layout& layout, int x, int y) {
  return dynamic_cast<const DecodeProgram&>(layout.program(x, y)).phase_cycles();
}

const KvCacheModule& decode_kv_cache(const csl::Layout& layout, int x, int y) {
  return dynamic_cast<const DecodeProgram&>(layout.program(x, y)).kv();
}

KvCacheModule& decode_kv_cache(csl::Layout& layout, int x, int y) {
  return dynamic_cast<DecodeProgram&>(layout.program(x, y)).kv();
}

void decode_preset_cache(csl::Layout& layout, std::uint64_t tokens) {
  for (int y = 0; y < layout.height(); ++y)
    for (int x = 0; x < layout.width(); ++x) {
      auto& kv = dynamic_cast<DecodeProgram&>(layout.program(x, y)).kv();
      for (int l = 0; l < kv.plan().cfg.layers; ++l) kv.preload(l, tokens);
    }
}

std::array<std::uint64_t, 2> decode_layer_ends(const csl::Layout& layout) {
  std::array<std::uint64_t, 2> end{};
  for (int y = 0; y < layout.height(); ++y)
    for (int x = 0; x < layout.width(); ++x) {
      const auto& e = dynamic_cast<const DecodeProgram&>(layout.program(x, y)).layer_ends();
      for (std::size_t l = 0; l < end.size(); ++l) end[l] = std::max<std::uint64_t>(end[l], e[l]);
    }
  return end;
}

bool decode_finished(const csl::Layout& layout) {
  for (int y = 0; y < layout.height(); ++y)
    for (int x = 0; x < layout.width(); ++x)
      if (!dynamic_cast<const DecodeProgram&>(layout.program(x, y)).finished()) return false;
  return true;
}

}  // namespace wafersim::kernels
