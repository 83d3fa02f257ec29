#include "firmware/kernels/dist_gemm_t.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "firmware/kernels/ring_allreduce.hpp"

namespace wafersim::kernels {
namespace {

using csl::f16;

// The reduction stream sends on OQ 4 and receives on IQ 2; B sends on OQ 5 and receives on IQ 1: distinct
// microthreads, receives on deep input queues (WSE-2: 4 and 6 words; a 2-word IQ cannot keep a stream at one
// wavelet per cycle).
constexpr int kSendX = 4, kSendB = 5, kRecvX = 2, kRecvB = 1;

class DistGemmT : public GemmProgram {
 public:
  struct Params {
    int P, steps, kx, ky;  // steps: run (P unless limited); ring positions
    std::uint32_t mb, kb, nb;
    bool acc32;
    Color tx_x, rx_x, tx_b, rx_b;
  };
  explicit DistGemmT(Params p)
      : p_(p),
        ldp_(fmac_pitch(p.mb, p.acc32 ? 4 : 2)),
        b_(this, "b", 2 * p.nb * p.kb),
        a_(this, "a", p.kb * fmac_pitch(p.mb, 2) + kBankSpare),
        part_(make_acc("part", p.acc32, 2 * p.nb, p.mb)),
        c_(make_acc("c", p.acc32, p.nb, p.mb)),
        step_task_(this, [this] { step(); }, "step"),
        reduced_(this, [this] { reduced(); }, "reduced"),
        sent_b_(this, [this] { shifted(); }, "sent_b"),
        got_b_(this, [this] { shifted(); }, "got_b") {
    const hw::ElemType wire = p.acc32 ? hw::ElemType::F32 : hw::ElemType::F16;
    if (p_.P > 1) {
      tx_x_ = fabout({.extent = p.mb * p.nb, .color = p.tx_x, .output_queue = kSendX, .type = wire});
      rx_x_ = fabin({.extent = p.mb * p.nb, .color = p.rx_x, .input_queue = kRecvX, .type = wire});
      tx_b_ = fabout({.extent = p.nb * p.kb, .color = p.tx_b, .output_queue = kSendB, .type = hw::ElemType::F16});
      rx_b_ = fabin({.extent = p.nb * p.kb, .color = p.rx_b, .input_queue = kRecvB, .type = hw::ElemType::F16});
    }
  }
  std::string name() const override { return "dist_gemm_t"; }

 private:
  void begin() override {
    computed_ = issued_ = reduced_n_ = shifting_ = 0;
    step_queued_ = true;
    activate(step_task_);
  }
  // The partial buffer i or C: nb rows of mb elements, ldp_ apart.
  csl::MemDsd rows(const csl::ArrayBase& arr, std::int32_t i = 0) const {
    return csl::mem4d(arr, {p_.mb, p_.nb, 1, 1}, {1, std::int32_t(ldp_), 0, 0}, i * std::int32_t(p_.nb * ldp_));
  }
  // Step s: shift B on for step s+1 and compute the partial of step s into buffer s % 2 (free: the reduction of
  // step s-2 has completed), then hand it to the reduction.
  void step() {
    step_queued_ = false;
    const std::uint32_t sb = p_.nb * p_.kb;
    const std::int32_t cur = s_ % 2, nxt = 1 - cur;
    if (s_ == 0) fmov(*c_, 0.0f);
    if (s_ + 1 < p_.steps) {
      shifting_ = 2;
      fmov(tx_b_, csl::mem1d(b_, {.extent = sb, .offset = cur * std::int32_t(sb)}), {.async = true, .activate = sent_b_});
      fmov(csl::mem1d(b_, {.extent = sb, .offset = nxt * std::int32_t(sb)}), rx_b_, {.async = true, .activate = got_b_});
    }
    // part^T[c][:] = sum_q B[c][q] * A^T[q][:] (unit-stride rows of A^T; B's elements are the scalars).
    fmov(rows(*part_, cur), 0.0f);
    fmac_rows(*part_, a_, 0, b_, std::uint32_t(cur) * sb, p_.nb, p_.kb, p_.mb, std::uint32_t(cur) * p_.nb * ldp_);
    computed_ = ++s_;
    reduce_next();
    step_next();
  }
  // Issues the reduction of the oldest computed partial not yet reduced, once the previous one has completed (one
  // reduction at a time: they share the row's colours and this PE's input queue). The row's chain towards the root
  // jb, each PE sending to the previous ring position: jb-1, jb-2, ..., jb+1, jb.
  void reduce_next() {
    if (issued_ == computed_ || reduced_n_ < issued_) return;
    const int P = p_.P, t = issued_++;
    const auto part = rows(*part_, t % 2);
    const int jb = (p_.ky + t) % P, d = ((p_.kx - jb) % P + P) % P;
    const csl::Async opt{.async = true, .activate = reduced_};
    if (P == 1) fadd(rows(*c_), rows(*c_), part, opt);
    else if (d == 0) fadd(rows(*c_), rx_x_, part, opt);
    else if (d == P - 1) fmov(tx_x_, part, opt);
    else fadd(tx_x_, rx_x_, part, opt);
  }
  // The next step starts when its B block has arrived (and the previous one left) and its partial buffer is free.
  void step_next() {
    if (s_ < p_.steps && shifting_ == 0 && reduced_n_ + 1 >= s_ && !step_queued_) {
      step_queued_ = true;
      activate(step_task_);
    }
  }
  void shifted() {
    --shifting_;
    step_next();
  }
  void reduced() {
    if (++reduced_n_ == p_.steps) {
      done_ = true;
      return;
    }
    reduce_next();
    step_next();
  }

  Params p_;
  std::uint32_t ldp_;
  csl::Array<f16> b_, a_;
  std::unique_ptr<csl::ArrayBase> part_, c_;
  csl::LocalTask step_task_, reduced_, sent_b_, got_b_;
  csl::Fabout tx_x_{}, tx_b_{};
  csl::Fabin rx_x_{}, rx_b_{};
  int computed_ = 0, issued_ = 0, reduced_n_ = 0, shifting_ = 0;  // steps computed; reductions issued/ended
  bool step_queued_ = false;
};

}  // namespace

std::uint64_t dist_gemm_t_sram_bytes(const GemmConfig& cfg) {
  const Split sm(cfg.m, cfg.P), sk(cfg.k, cfg.P), sn(cfg.n, cfg.P);
  const std::uint32_t acc = cfg.fp32_accumulate ? 4 : 2;
  const std::uint64_t part = std::uint64_t(acc) * sn.block * fmac_pitch(sm.block, acc);
  std::uint64_t e = align4(2ull * 2 * sn.block * sk.block);
  e = align4(e + 2ull * (std::uint64_t(sk.block) * fmac_pitch(sm.block, 2) + kBankSpare));
  e = align4(e + 2 * part);  // two partial buffers
  return align4(e + part);
}

GemmLayout dist_gemm_t(const GemmConfig& cfg, const hw::ArchParams& arch) {
  GemmLayout g = plan_gemm(cfg, arch, "dist_gemm_t", dist_gemm_t_sram_bytes);
  const int P = cfg.P, H = cfg.rows ? cfg.rows : P;
  if (cfg.rows < 0 || cfg.rows > P)
    throw ConfigError("dist_gemm_t: rows = " + std::to_string(cfg.rows) + " outside 0.." + std::to_string(P) +
                      " (0: all P rows)");
  if (H != P) g.layout = std::make_unique<csl::Layout>(P, H);
  g.ring = interleave_ring(P);
  g.skewed = false;
  g.c_transposed = true;
  ColorPool pool(cfg.colors, arch, "dist_gemm_t");
  const XyRings rings = route_xy_rings(*g.layout, P, g.ring, pool, "dist_gemm_t rings", false,
                                       H == P ? std::vector<int>{} : interleave_ring(H));
  g.hops_max = rings.hops_max;
  g.colors_per_pe_max = rings.colors_per_pe_max;
  g.colors_used = rings.colors_used;
  const std::vector<int> ring_y = interleave_ring(H);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < P; ++x)
      g.layout->set_tile_program<DistGemmT>(
          x, y,
          DistGemmT::Params{.P = P, .steps = cfg.steps ? cfg.steps : P, .kx = ring_position(g.ring, x), .ky = ring_position(ring_y, y),
                            .mb = g.sm.block, .kb = g.sk.block, .nb = g.sn.block, .acc32 = cfg.fp32_accumulate,
                            .tx_x = rings.tx_x[std::size_t(x)], .rx_x = rings.rx_x[std::size_t(x)],
                            .tx_b = rings.tx_y[std::size_t(y)], .rx_b = rings.rx_y[std::size_t(y)]});
  for (const char* s : {"a", "b", "c"}) g.layout->export_symbol(s);
  return g;
}

void write_gemm_t_inputs(csl::Layout& layout, const GemmLayout& g, const std::vector<float>& a,
                         const std::vector<float>& b) {
  for (int y = 0; y < g.cfg.P; ++y)
    for (int x = 0; x < g.cfg.P; ++x) {
      const int kx = ring_position(g.ring, x), ky = ring_position(g.ring, y);
      const auto blk = block_of(a, g.sm, g.sk, ky, kx);  // mb x kb, stored transposed (kb rows of fmac_pitch(mb))
      const std::uint32_t lda = fmac_pitch(g.sm.block, 2);
      std::vector<float> at(std::size_t(g.sk.block) * lda, 0.0f);
      for (std::uint32_t r = 0; r < g.sm.block; ++r)
        for (std::uint32_t q = 0; q < g.sk.block; ++q)
          at[std::size_t(q) * lda + r] = blk[std::size_t(r) * g.sk.block + q];
      layout.write_symbol<f16>(x, y, "a", to_half(at));
      layout.write_symbol<f16>(x, y, "b", to_half(block_of(b, g.sn, g.sk, ky, kx)));
    }
}

hw::Cycle dist_gemm_t_model_cycles(const GemmLayout& g, const hw::ArchParams& arch, const hw::ComputeEngine& ce) {
  const int P = g.cfg.P;
  const std::uint32_t mb = g.sm.block, kb = g.sk.block, nb = g.sn.block;
  const bool f32 = g.cfg.fp32_accumulate;
  const hw::Cycle sw = hw::Cycle(arch.pe.task_switch_cycles);
  const std::uint32_t ldp = fmac_pitch(mb, f32 ? 4 : 2);
  // The partial buffer i or C: nb rows of mb, ldp apart.
  auto rows = [&](const char* name, std::uint32_t i) {
    hw::MemDsd d = gemm_symbol_dsd(g, name, i * nb * ldp, mb);
    d.dims = 4;
    d.extent = {mb, nb, 1, 1};
    d.stride = {1, std::int32_t(ldp), 0, 0};
    return d;
  };
  // Step s zeroes partial buffer s % 2 and runs its row loop over the unit-stride rows of A^T.
  hw::Cycle compute[2];
  for (std::uint32_t i = 0; i < 2; ++i)
    compute[i] = ce.op_cycles({.code = f32 ? hw::OpCode::Fmovs : hw::OpCode::Fmovh, .dest = rows("part", i),
                               .src0 = hw::Immediate{}},
                              mb * nb) +
                 gemm_row_fmac_cycles(g, ce, "part", "a", 0, nb, kb, mb, i * nb * ldp);
  const hw::Cycle done = sw + 1;  // a completion task
  const hw::Cycle zero_c = gemm_zero_cycles(g, ce, "c");
  if (P == 1)  // c += part inside the step
    return zero_c + sw + compute[0] +
           ce.op_cycles({.code = f32 ? hw::OpCode::Fadds : hw::OpCode::Faddh, .dest = rows("c", 0),
                         .src0 = rows("c", 0), .src1 = rows("part", 0)},
                        mb * nb) +
           done;
  const hw::Cycle hop2 = 2 * hw::Cycle(arch.router.ramp_latency) + hw::Cycle(arch.router.router_latency) +
                         2 * hw::Cycle(arch.router.hop_latency());  // one ring edge (at most 2 hops)
  const hw::Cycle issue = hw::Cycle(arch.pe.dsd_issue_cycles);
  // A reduction: the leaf's op setup, the chain's P-1 edges (the other PEs' ops are already waiting on their input
  // queue), then the partial's elements; the B shift: setup, one edge and the block.
  const hw::Cycle reduce = issue + hw::Cycle(P - 1) * hop2 + hw::Cycle(mb) * nb;
  const hw::Cycle shift = issue + hop2 + hw::Cycle(nb) * kb;
  // Step s's body starts at b and ends at e. The reductions run one after the other: the leaf of step s+1 is the
  // root of step s, whose completion task issues it, so reduction s starts at e or when reduction s-1 has ended.
  // Step s+1 starts (task switch) after step s, its B shift and the shift's two completion tasks, and once the
  // reduction of step s-1 has ended (its partial buffer).
  hw::Cycle b = sw, r_prev = 0;
  for (int s = 0;; ++s) {
    const hw::Cycle e = b + (s == 0 ? zero_c : 0) + compute[s % 2];
    const hw::Cycle r_end = (s == 0 ? e : std::max(e, r_prev + done)) + reduce;
    if (s + 1 == P) return r_end + done;
    b = std::max({e, b + shift}) + 2 * done;
    if (s >= 1) b = std::max(b, r_prev + done);
    b += sw;
    r_prev = r_end;
  }
}

}  // namespace wafersim::kernels
