#include "firmware/kernels/llama_prefill.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <stdexcept>

#include "common/error.hpp"
#include "fabric/fabric.hpp"
#include "firmware/kernels/collective_module.hpp"
#include "firmware/kernels/dist_gemm_t.hpp"
#include "firmware/kernels/meshgemm.hpp"
#include "firmware/kernels/pipeline_allreduce.hpp"

namespace wafersim::kernels {
namespace {

using Matrix = std::vector<float>;

enum class RowOp { RmsNorm, CausalSoftmax, Rope, SwiGlu, Add };
bool uses_u(RowOp op) { return op == RowOp::Rope || op == RowOp::SwiGlu || op == RowOp::Add; }

// The row-wise steps on the wafer: PE (x, y) holds block (y, x) of an fp32 matrix [rows x cols] ("m", rb x cb,
// row-major; rows Split along Y, cols along X) and every row is reduced along X with pipeline allreduces ("sum",
// "max", 2 microthreads each):
//   RmsNorm        ss[r] = sum of m[r]^2 (local), allreduce sum; m[r] *= rsqrt(ss[r] / n + eps) * w ("w": cb)
//   CausalSoftmax  m *= scale; row gi keeps only columns gj <= gi (a prefix of the local row: the causal mask by
//                  construction, padding included since gj >= rows > gi); max of the kept prefix, allreduce max;
//                  exp(m - max) (real exp) on the prefix, zeros after it; sum, allreduce sum; m[r] *= 1 / sum.
// and the element-wise steps, local, on a second block "u" laid out like m:
//   Rope           m = m * cos(pos * f) + u * sin(pos * f): pos is the global row (the token's position), f ("w") the
//                  column's inverse frequency (0 on V columns: unchanged), u the host's re-lay of rotate_half(m)
//                  (-m[i + half] at i, m[i] at i + half; 0 on V columns)
//   SwiGlu         m = silu(m) * u (m the gate, u the up projection; silu via a real exp)
//   Add            m += u (the residuals, a bias re-laid on every row)
struct RowShape {
  RowOp op = RowOp::RmsNorm;
  std::uint32_t rb = 1, cb = 1;   // block of a PE
  std::uint32_t n = 1;            // RmsNorm: the row length the mean divides by
  float eps = 0, scale = 1;
  hw::ScalarCostParams cost{};  // cycles per element of exp, silu, reciprocal, cos/sin, rsqrt (pe.scalar, assumptions)
};

class RowProgram : public csl::Program {
 public:
  RowProgram(const RowShape& s, PlanPtr sum, PlanPtr max, int x, int y)
      : s_(s), row0_(std::uint32_t(y) * s.rb), col0_(std::uint32_t(x) * s.cb) {
    sum_ = instantiate(this, "sum", std::move(sum), x, y);
    max_ = instantiate(this, "max", std::move(max), x, y);
  }
  std::string name() const override { return "prefill_rows"; }
  void init() override {
    export_function("rows", [this] {
      finished_ = false;
      phase_ = 0;
      activate(step_);
    });
  }
  bool finished() const { return finished_; }

 private:
  csl::MemDsd row(std::uint32_t r, std::uint32_t n, std::uint32_t from = 0) {
    return csl::mem1d(m_, {.extent = n, .offset = std::int32_t(r * s_.cb + from)});
  }
  csl::MemDsd urow(std::uint32_t r) {
    return csl::mem1d(u_, {.extent = s_.cb, .offset = std::int32_t(r * s_.cb)});
  }
  // Columns of row r that the causal mask keeps on this PE.
  std::uint32_t kept(std::uint32_t r) const {
    const std::uint32_t gi = row0_ + r;
    return gi < col0_ ? 0 : std::min(s_.cb, gi - col0_ + 1);
  }

  void advance() {
    const csl::Async next{.activate = step_};
    const std::uint32_t rb = s_.rb, cb = s_.cb;
    switch (s_.op) {
      case RowOp::Rope:
        for (std::uint32_t r = 0; r < rb; ++r) {
          const double pos = double(row0_ + r);
          map(tmp_, w_, [pos](float f) { return float(std::cos(pos * double(f))); }, hw::Cycle(s_.cost.trig));
          fmuls(row(r, cb), row(r, cb), tmp_);
          map(tmp_, w_, [pos](float f) { return float(std::sin(pos * double(f))); }, hw::Cycle(s_.cost.trig));
          fmuls(tmp_, tmp_, urow(r));
          fadds(row(r, cb), row(r, cb), tmp_);
        }
        finished_ = true;
        return;
      case RowOp::SwiGlu:
        map(m_, m_, [](float v) { return v / (1.0f + std::exp(-v)); }, hw::Cycle(s_.cost.silu));
        fmuls(m_, m_, u_);
        finished_ = true;
        return;
      case RowOp::Add:
        fadds(m_, m_, u_);
        finished_ = true;
        return;
      default:
        break;
    }
    if (s_.op == RowOp::RmsNorm) {
      if (phase_++ == 0) {
        fmovs(red_, 0.0f);
        for (std::uint32_t r = 0; r < rb; ++r) {
          fmuls(tmp_, row(r, cb), row(r, cb));
          fadds(csl::scalar(red_, r), csl::scalar(red_, r), tmp_);
        }
        sum_->allreduce(red_, rb, next);
        return;
      }
      const double n = s_.n, eps = s_.eps;
      map(red_, red_, [n, eps](float v) { return float(1.0 / std::sqrt(double(v) / n + eps)); }, hw::Cycle(s_.cost.rsqrt));
      for (std::uint32_t r = 0; r < rb; ++r) {
        fmuls(row(r, cb), row(r, cb), csl::scalar(red_, r));
        fmuls(row(r, cb), row(r, cb), w_);
      }
      finished_ = true;
      return;
    }
    switch (phase_++) {
      case 0:
        fmuls(m_, m_, s_.scale);
        fmovs(red_, -FLT_MAX);
        for (std::uint32_t r = 0; r < rb; ++r)
          if (kept(r) > 0) fmaxs(csl::scalar(red_, r), csl::scalar(red_, r), row(r, kept(r)));
        max_->allreduce(red_, rb, next);
        return;
      case 1:
        fmovs(red2_, 0.0f);
        for (std::uint32_t r = 0; r < rb; ++r) {
          const std::uint32_t k = kept(r);
          if (k > 0) {
            fsubs(row(r, k), row(r, k), csl::scalar(red_, r));
            map(row(r, k), row(r, k), [](float v) { return std::exp(v); }, hw::Cycle(s_.cost.exp));
            fadds(csl::scalar(red2_, r), csl::scalar(red2_, r), row(r, k));
          }
          if (k < cb) fmovs(row(r, cb - k, k), 0.0f);
        }
        sum_->allreduce(red2_, rb, next);
        return;
      default:
        map(red2_, red2_, [](float v) { return 1.0f / v; }, hw::Cycle(s_.cost.reciprocal));
        for (std::uint32_t r = 0; r < rb; ++r) fmuls(row(r, cb), row(r, cb), csl::scalar(red2_, r));
        finished_ = true;
        return;
    }
  }

  RowShape s_;
  std::uint32_t row0_, col0_;
  csl::Array<float> m_{this, "m", s_.rb * s_.cb};
  csl::Array<float> u_{this, "u", uses_u(s_.op) ? s_.rb * s_.cb : 1};
  csl::Array<float> w_{this, "w", s_.cb};
  csl::Array<float> tmp_{this, "tmp", s_.cb};
  csl::Array<float> red_{this, "red", s_.rb};
  csl::Array<float> red2_{this, "red2", s_.rb};
  std::unique_ptr<CollectiveModule> sum_, max_;
  int phase_ = 0;
  bool finished_ = true;
  csl::LocalTask step_{this, [this] { advance(); }, "step"};
};

// The sequence of device runs of one layer: each run on a fresh P x P fabric, its cycles added to its kernel.
class PrefillRuns {
 public:
  // `timing_only`: no data (empty matrices, nothing read back), a fabric in DataMode::TimingOnly; `steps` and
  // `align_rounds` limit the GEMMs' compute steps and MeshGEMM's alignment rounds, `rows` dist-GEMM-T's region
  // (GemmConfig).
  PrefillRuns(const PrefillShape& s, const hw::ArchParams& arch, PrefillResult& r, bool timing_only = false,
              int steps = 0, int align_rounds = 0, int rows = 0)
      : s_(s), arch_(arch), r_(r), timing_only_(timing_only), steps_(steps), align_rounds_(align_rounds),
        rows_(rows) {}

  // C [m x n] = A [m x k] * B [k x n] (MeshGEMM).
  Matrix gemm(const char* kernel, const Matrix& a, const Matrix& b, std::uint32_t m, std::uint32_t k,
              std::uint32_t n) {
    return run(kernel, config(m, k, n), a, b, false);
  }
  // The row-wise or element-wise step `op` on m [rows x cols], in place (w: RmsNorm's weight or Rope's frequency
  // per column; u: the second operand [rows x cols] of Rope, SwiGlu and Add).
  void row_step(const char* kernel, RowOp op, Matrix& m, std::uint32_t rows, std::uint32_t cols,
                const std::vector<float>& w = {}, float scale = 1.0f, const Matrix& u = {}) {
    const Split sr(rows, s_.P), sc(cols, s_.P);
    const RowShape rs{.op = op, .rb = sr.block, .cb = sc.block, .n = cols, .eps = float(s_.rms_eps), .scale = scale,
                       .cost = arch_.pe.scalar};
    CollectiveConfig cx{.width = s_.P, .height = s_.P, .axis = Axis::X, .length = sr.block, .dtype = DType::F32};
    const PlanPtr sum = pipeline_plan(cx, arch_);
    cx.op = ReduceOp::Max;
    cx.colors = remaining_colors(*sum, {}, arch_);
    const PlanPtr max = pipeline_plan(cx, arch_);
    fabric::Fabric f(arch_, s_.P, s_.P, mode());
    csl::Layout layout(s_.P, s_.P);
    for (int y = 0; y < s_.P; ++y)
      for (int x = 0; x < s_.P; ++x)
        layout.set_tile_code(x, y, [rs, sum, max](int px, int py) {
          return std::make_unique<RowProgram>(rs, sum, max, px, py);
        });
    sum->apply_routes(layout, "sum");
    max->apply_routes(layout, "max");
    layout.export_symbol("m");
    layout.export_symbol("w");
    layout.export_symbol("u");
    layout.load(f);
    const Split one(1, 1);
    for (int y = 0; y < s_.P && !timing_only_; ++y)
      for (int x = 0; x < s_.P; ++x) {
        layout.write_symbol<float>(x, y, "m", block_of(m, sr, sc, y, x));
        if (!w.empty()) layout.write_symbol<float>(x, y, "w", block_of(w, one, sc, 0, x));
        if (!u.empty()) layout.write_symbol<float>(x, y, "u", block_of(u, sr, sc, y, x));
      }
    layout.call("rows");
    const auto rr = f.run();
    bool done = rr.completed;
    for (int y = 0; y < s_.P; ++y)
      for (int x = 0; x < s_.P; ++x) done = done && dynamic_cast<const RowProgram&>(layout.program(x, y)).finished();
    if (!done) throw std::runtime_error(std::string("llama_prefill: the ") + kernel + " run did not complete");
    account(kernel, rr.cycles, layout.engine(0, 0).sram().used() - arch_.pe.code_reserve_bytes);
    for (int y = 0; y < s_.P && !timing_only_; ++y)
      for (int x = 0; x < s_.P; ++x) put_block(m, sr, sc, y, x, layout.read_symbol<float>(x, y, "m"));
  }
  // C [m x n] = A [m x k] * B^T, B [n x k] as stored (dist-GEMM-T).
  Matrix gemm_t(const char* kernel, const Matrix& a, const Matrix& b, std::uint32_t m, std::uint32_t k,
                std::uint32_t n) {
    return run(kernel, config(m, k, n), a, b, true);
  }

 private:
  fabric::DataMode mode() const { return timing_only_ ? fabric::DataMode::TimingOnly : fabric::DataMode::Functional; }
  GemmConfig config(std::uint32_t m, std::uint32_t k, std::uint32_t n) const {
    return {.P = s_.P, .m = m, .k = k, .n = n, .fp32_accumulate = s_.fp32_accumulate, .steps = steps_,
            .align_rounds = align_rounds_, .rows = rows_};
  }
  Matrix run(const char* kernel, const GemmConfig& cfg, const Matrix& a, const Matrix& b, bool transposed) {
    fabric::Fabric f(arch_, s_.P, transposed && rows_ ? rows_ : s_.P, mode());
    GemmLayout g = transposed ? dist_gemm_t(cfg, arch_) : meshgemm(cfg, arch_);
    g.layout->load(f);
    if (!timing_only_ && transposed) write_gemm_t_inputs(*g.layout, g, a, b);
    if (!timing_only_ && !transposed) write_gemm_inputs(*g.layout, g, a, b);
    g.layout->call("gemm");
    const auto rr = f.run();
    if (!rr.completed || !gemm_finished(g))
      throw std::runtime_error(std::string("llama_prefill: the ") + kernel + " run (" + g.name + ") did not complete");
    account(kernel, rr.cycles, g.sram_bytes_per_pe);
    return timing_only_ ? Matrix{} : read_gemm_output(*g.layout, g);
  }
  void account(const char* kernel, std::uint64_t cycles, std::uint64_t sram_bytes) {
    auto it = std::find_if(r_.kernels.begin(), r_.kernels.end(), [&](const auto& kc) { return kc.kernel == kernel; });
    if (it == r_.kernels.end()) it = r_.kernels.insert(r_.kernels.end(), {kernel, 0, 0});
    ++it->runs;
    it->cycles += cycles;
    r_.cycles += cycles;
    r_.sram_bytes_per_pe_max = std::max(r_.sram_bytes_per_pe_max, sram_bytes);
  }

  const PrefillShape& s_;
  const hw::ArchParams& arch_;
  PrefillResult& r_;
  bool timing_only_;
  int steps_, align_rounds_, rows_;
};

// The weights [out_i, in] stacked along out and transposed: MeshGEMM's B [in x sum(out_i)].
Matrix stack_transposed(const std::vector<const Matrix*>& parts, std::uint32_t in) {
  std::uint32_t out = 0;
  for (const Matrix* p : parts) out += std::uint32_t(p->size() / in);
  Matrix b(std::size_t(in) * out);
  std::uint32_t col = 0;
  for (const Matrix* p : parts) {
    const std::uint32_t n = std::uint32_t(p->size() / in);
    for (std::uint32_t j = 0; j < n; ++j)
      for (std::uint32_t i = 0; i < in; ++i) b[std::size_t(i) * out + col + j] = (*p)[std::size_t(j) * in + i];
    col += n;
  }
  return b;
}

// Columns [c0, c0 + n) of a [rows x cols] matrix.
Matrix columns(const Matrix& m, std::uint32_t rows, std::uint32_t cols, std::uint32_t c0, std::uint32_t n) {
  Matrix out(std::size_t(rows) * n);
  for (std::uint32_t i = 0; i < rows; ++i)
    std::copy_n(m.begin() + std::ptrdiff_t(std::size_t(i) * cols + c0), n, out.begin() + std::ptrdiff_t(std::size_t(i) * n));
  return out;
}

void check_shape(const PrefillShape& s, const PrefillWeights& w, std::size_t x_size) {
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw ConfigError("llama_prefill: " + what);
  };
  need(s.P >= 1, "P must be >= 1");
  need(s.seq >= 1 && s.hidden >= 1 && s.ffn >= 1, "seq, hidden and ffn must be >= 1");
  need(s.head_dim >= 2 && s.head_dim % 2 == 0, "head_dim must be even and >= 2 (RoPE pairs)");
  need(s.kv_heads >= 1 && s.q_heads % s.kv_heads == 0, "q_heads must be a multiple of kv_heads");
  need(s.inv_freq.size() == s.head_dim / 2, "inv_freq must hold head_dim / 2 values");
  need(x_size == std::size_t(s.seq) * s.hidden, "x must hold seq * hidden values");
  const std::size_t e = s.hidden, q = std::size_t(s.q_heads) * s.head_dim, kv = std::size_t(s.kv_heads) * s.head_dim;
  need(w.input_norm.size() == e && w.post_norm.size() == e, "input_norm/post_norm must hold hidden values");
  need(w.wq.size() == q * e && w.wk.size() == kv * e && w.wv.size() == kv * e, "wq/wk/wv shape");
  need(w.wo.size() == e * q, "wo must be [hidden x q_heads*head_dim]");
  need(w.w_gate.size() == std::size_t(s.ffn) * e && w.w_up.size() == std::size_t(s.ffn) * e &&
           w.w_down.size() == e * s.ffn,
       "w_gate/w_up/w_down shape");
  const bool bias = !w.bq.empty() || !w.bk.empty() || !w.bv.empty();
  need(!bias || (w.bq.size() == q && w.bk.size() == kv && w.bv.size() == kv), "bq/bk/bv shape");
}

}  // namespace

PrefillResult llama_prefill_layer(const PrefillShape& s, const PrefillWeights& w, const std::vector<float>& x,
                                  const hw::ArchParams& arch) {
  check_shape(s, w, x.size());
  PrefillResult r;
  PrefillRuns dev(s, arch, r);
  const std::uint32_t L = s.seq, E = s.hidden, hd = s.head_dim, half = hd / 2;
  const std::uint32_t qd = s.q_heads * hd, kvd = s.kv_heads * hd, qkv = qd + 2 * kvd, group = s.q_heads / s.kv_heads;

  // Attention block.
  Matrix xn = x;
  dev.row_step("rmsnorm", RowOp::RmsNorm, xn, L, E, w.input_norm);
  Matrix y = dev.gemm("qkv", xn, stack_transposed({&w.wq, &w.wk, &w.wv}, E), L, E, qkv);
  if (!w.bq.empty()) {  // the bias re-laid on every row
    Matrix bias(y.size());
    for (std::uint32_t t = 0; t < L; ++t)
      for (std::uint32_t j = 0; j < qkv; ++j)
        bias[std::size_t(t) * qkv + j] = j < qd ? w.bq[j] : j < qd + kvd ? w.bk[j - qd] : w.bv[j - qd - kvd];
    dev.row_step("bias", RowOp::Add, y, L, qkv, {}, 1.0f, bias);
  }
  // RoPE (HF rotate_half: element i pairs with i + half, both at inv_freq[i]) on the q and k heads, each token at
  // its position; the host re-lays rotate_half(q|k) as the second operand.
  std::vector<float> freq(qkv, 0.0f);
  Matrix rot(y.size(), 0.0f);
  for (std::uint32_t j = 0; j < qd + kvd; ++j) freq[j] = float(s.inv_freq[(j % hd) % half]);
  for (std::uint32_t t = 0; t < L; ++t)
    for (std::uint32_t j = 0; j < qd + kvd; ++j) {
      const std::size_t e = std::size_t(t) * qkv + j;
      rot[e] = j % hd < half ? -y[e + half] : y[e - half];
    }
  dev.row_step("rope", RowOp::Rope, y, L, qkv, freq, 1.0f, rot);
  r.k = columns(y, L, qkv, qd, kvd);
  r.v = columns(y, L, qkv, qd + kvd, kvd);
  Matrix attn(std::size_t(L) * qd);
  const float scale = float(1.0 / std::sqrt(double(hd)));
  for (std::uint32_t h = 0; h < s.q_heads; ++h) {
    const std::uint32_t g = h / group;
    Matrix sc = dev.gemm_t("scores", columns(y, L, qkv, h * hd, hd), columns(r.k, L, kvd, g * hd, hd), L, hd, L);
    dev.row_step("softmax", RowOp::CausalSoftmax, sc, L, L, {}, scale);
    const Matrix o = dev.gemm("pv", sc, columns(r.v, L, kvd, g * hd, hd), L, L, hd);
    for (std::uint32_t t = 0; t < L; ++t)
      std::copy_n(o.begin() + std::ptrdiff_t(std::size_t(t) * hd), hd,
                  attn.begin() + std::ptrdiff_t(std::size_t(t) * qd + std::size_t(h) * hd));
  }
  Matrix h1 = dev.gemm("wo", attn, stack_transposed({&w.wo}, qd), L, qd, E);
  dev.row_step("residual", RowOp::Add, h1, L, E, {}, 1.0f, x);

  // FFN block.
  Matrix hn = h1;
  dev.row_step("rmsnorm", RowOp::RmsNorm, hn, L, E, w.post_norm);
  const std::uint32_t F = s.ffn;
  const Matrix gu = dev.gemm("up_gate", hn, stack_transposed({&w.w_gate, &w.w_up}, E), L, E, 2 * F);
  Matrix act = columns(gu, L, 2 * F, 0, F);  // the gate, and the up projection re-laid beside it
  dev.row_step("swiglu", RowOp::SwiGlu, act, L, F, {}, 1.0f, columns(gu, L, 2 * F, F, F));
  r.out = dev.gemm("down", act, stack_transposed({&w.w_down}, F), L, F, E);
  dev.row_step("residual", RowOp::Add, r.out, L, E, {}, 1.0f, h1);
  return r;
}

std::vector<PrefillRun> prefill_layer_runs(const PrefillShape& s, bool qkv_bias) {
  const std::uint32_t L = s.seq, E = s.hidden, hd = s.head_dim, F = s.ffn, H = s.q_heads;
  const std::uint32_t qd = H * hd, qkv = qd + 2 * s.kv_heads * hd;
  std::vector<PrefillRun> runs = {{"rmsnorm", L, 1, E, 2}, {"qkv", L, E, qkv}};
  if (qkv_bias) runs.push_back({"bias", L, 1, qkv});
  const int heads = int(H);
  for (const PrefillRun& r : std::vector<PrefillRun>{{"rope", L, 1, qkv},
                                                     {"scores", L, hd, L, heads},
                                                     {"softmax", L, 1, L, heads},
                                                     {"pv", L, L, hd, heads},
                                                     {"wo", L, qd, E},
                                                     {"residual", L, 1, E, 2},
                                                     {"up_gate", L, E, 2 * F},
                                                     {"swiglu", L, 1, F},
                                                     {"down", L, F, E}})
    runs.push_back(r);
  return runs;
}

std::vector<PrefillRun> prefill_head_runs(const PrefillShape& s, std::uint32_t vocab) {
  return {{"final_rmsnorm", 1, 1, s.hidden}, {"lm_head", 1, s.hidden, vocab}};
}

bool prefill_run_is_gemm(const PrefillRun& run) {
  for (const char* k : {"qkv", "scores", "pv", "wo", "up_gate", "down", "lm_head"})
    if (run.kernel == k) return true;
  return false;
}

bool prefill_run_aligns(const PrefillRun& run) { return prefill_run_is_gemm(run) && run.kernel != "scores"; }

bool prefill_run_is_local(const PrefillRun& run) {
  return run.kernel == "bias" || run.kernel == "residual" || run.kernel == "rope" || run.kernel == "swiglu";
}

std::uint64_t prefill_run_cycles(const PrefillRun& run, const PrefillShape& s, const hw::ArchParams& arch, int steps,
                                 int align_rounds, int rows) {
  PrefillResult r;
  PrefillRuns dev(s, arch, r, true, steps, align_rounds, rows);
  const char* k = run.kernel.c_str();
  const Matrix none;
  if (run.kernel == "scores") dev.gemm_t(k, none, none, run.m, run.k, run.n);
  else if (prefill_run_is_gemm(run)) dev.gemm(k, none, none, run.m, run.k, run.n);
  else {
    Matrix m;
    RowOp op = RowOp::Add;
    if (run.kernel == "rmsnorm" || run.kernel == "final_rmsnorm") op = RowOp::RmsNorm;
    else if (run.kernel == "rope") op = RowOp::Rope;
    else if (run.kernel == "softmax") op = RowOp::CausalSoftmax;
    else if (run.kernel == "swiglu") op = RowOp::SwiGlu;
    else if (run.kernel != "bias" && run.kernel != "residual")
      throw ConfigError("llama_prefill: unknown kernel \"" + run.kernel + "\" (prefill_run_cycles)");
    dev.row_step(k, op, m, run.m, run.n);
  }
  return r.cycles;
}

}  // namespace wafersim::kernels
