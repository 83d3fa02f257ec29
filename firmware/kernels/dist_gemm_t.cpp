#include "firmware/kernels/dist_gemm_t.hpp"

#include <algorithm>

#include "firmware/kernels/ring_allreduce.hpp"

namespace wafersim::kernels {
namespace {

using csl::f16;

std::uint64_t align4(std::uint64_t a) { return (a + 3) / 4 * 4; }

// The reduction stream sends on OQ 1 and receives on IQ 3; B sends on OQ 2 and receives on IQ 4.
constexpr int kSendX = 1, kSendB = 2, kRecvX = 3, kRecvB = 4;

class DistGemmT : public GemmProgram {
 public:
  struct Params {
    int P, kx, ky;  // ring positions
    std::uint32_t mb, kb, nb;
    bool acc32;
    Color tx_x, rx_x, tx_b, rx_b;
  };
  explicit DistGemmT(Params p)
      : p_(p),
        ldp_(fmac_pitch(p.mb, p.acc32 ? 4 : 2)),
        b_(this, "b", 2 * p.nb * p.kb),
        a_(this, "a", p.kb * fmac_pitch(p.mb, 2) + kBankSpare),
        part_(make_acc("part")),
        c_(make_acc("c")),
        step_task_(this, [this] { step(); }, "step"),
        reduced_(this, [this] { arrived(); }, "reduced"),
        sent_b_(this, [this] { arrived(); }, "sent_b"),
        got_b_(this, [this] { arrived(); }, "got_b") {
    const hw::ElemType wire = p.acc32 ? hw::ElemType::F32 : hw::ElemType::F16;
    if (p_.P > 1) {
      tx_x_ = fabout({.extent = p.mb * p.nb, .color = p.tx_x, .output_queue = kSendX, .type = wire});
      rx_x_ = fabin({.extent = p.mb * p.nb, .color = p.rx_x, .input_queue = kRecvX, .type = wire});
      tx_b_ = fabout({.extent = p.nb * p.kb, .color = p.tx_b, .output_queue = kSendB, .type = hw::ElemType::F16});
      rx_b_ = fabin({.extent = p.nb * p.kb, .color = p.rx_b, .input_queue = kRecvB, .type = hw::ElemType::F16});
    }
  }
  std::string name() const override { return "dist_gemm_t"; }
  void init() override {
    export_function("gemm", [this] {
      s_ = 0;
      done_ = false;
      activate(step_task_);
    });
  }
  bool finished() const override { return done_; }

 private:
  std::unique_ptr<csl::ArrayBase> make_acc(const char* n) {
    if (p_.acc32) return std::make_unique<csl::Array<float>>(this, n, p_.nb * ldp_);
    return std::make_unique<csl::Array<f16>>(this, n, p_.nb * ldp_);
  }
  // The partial or C: nb rows of mb elements, ldp_ apart.
  csl::MemDsd rows(const csl::ArrayBase& arr) const {
    return csl::mem4d(arr, {p_.mb, p_.nb, 1, 1}, {1, std::int32_t(ldp_), 0, 0});
  }
  void step() {
    const std::uint32_t sb = p_.nb * p_.kb;
    const std::int32_t cur = s_ % 2, nxt = 1 - cur;
    const int P = p_.P;
    if (s_ == 0) fmov(*c_, 0.0f);
    pending_ = 1;
    if (s_ + 1 < P) {
      pending_ += 2;
      fmov(tx_b_, csl::mem1d(b_, {.extent = sb, .offset = cur * std::int32_t(sb)}), {.async = true, .activate = sent_b_});
      fmov(csl::mem1d(b_, {.extent = sb, .offset = nxt * std::int32_t(sb)}), rx_b_, {.async = true, .activate = got_b_});
    }
    // part^T[c][:] = sum_q B[c][q] * A^T[q][:] (unit-stride rows of A^T; B's elements are the scalars).
    fmov(*part_, 0.0f);
    fmac_rows(*part_, a_, 0, b_, std::uint32_t(cur) * sb, p_.nb, p_.kb, p_.mb);
    // The row's chain towards the root jb, each PE sending to the previous ring position: jb-1, jb-2, ..., jb+1, jb.
    const int jb = (p_.ky + s_) % P, d = ((p_.kx - jb) % P + P) % P;
    const csl::Async opt{.async = true, .activate = reduced_};
    if (P == 1) fadd(rows(*c_), rows(*c_), rows(*part_), opt);
    else if (d == 0) fadd(rows(*c_), rx_x_, rows(*part_), opt);
    else if (d == P - 1) fmov(tx_x_, rows(*part_), opt);
    else fadd(tx_x_, rx_x_, rows(*part_), opt);
  }
  void arrived() {
    if (--pending_ > 0) return;
    if (++s_ == p_.P) {
      done_ = true;
      return;
    }
    activate(step_task_);
  }

  Params p_;
  std::uint32_t ldp_;
  csl::Array<f16> b_, a_;
  std::unique_ptr<csl::ArrayBase> part_, c_;
  csl::LocalTask step_task_, reduced_, sent_b_, got_b_;
  csl::Fabout tx_x_{}, tx_b_{};
  csl::Fabin rx_x_{}, rx_b_{};
  int s_ = 0, pending_ = 0;
  bool done_ = false;
};

}  // namespace

std::uint64_t dist_gemm_t_sram_bytes(const GemmConfig& cfg) {
  const Split sm(cfg.m, cfg.P), sk(cfg.k, cfg.P), sn(cfg.n, cfg.P);
  const std::uint32_t acc = cfg.fp32_accumulate ? 4 : 2;
  const std::uint64_t part = std::uint64_t(acc) * sn.block * fmac_pitch(sm.block, acc);
  std::uint64_t e = align4(2ull * 2 * sn.block * sk.block);
  e = align4(e + 2ull * (std::uint64_t(sk.block) * fmac_pitch(sm.block, 2) + kBankSpare));
  e = align4(e + part);
  return align4(e + part);
}

GemmLayout dist_gemm_t(const GemmConfig& cfg, const hw::ArchParams& arch) {
  check_gemm(cfg, arch, "dist_gemm_t", cfg.P >= 1 ? dist_gemm_t_sram_bytes(cfg) : 0);
  const int P = cfg.P;
  GemmLayout g{.layout = std::make_unique<csl::Layout>(P, P), .name = "dist_gemm_t", .cfg = cfg,
               .sm = Split(cfg.m, P), .sk = Split(cfg.k, P), .sn = Split(cfg.n, P), .ring = interleave_ring(P),
               .skewed = false, .c_transposed = true, .hops_max = 0, .colors_per_pe_max = 0, .colors_used = {},
               .sram_bytes_per_pe = dist_gemm_t_sram_bytes(cfg)};
  ColorPool pool(cfg.colors, arch, "dist_gemm_t");
  const XyRings rings = route_xy_rings(*g.layout, P, g.ring, pool, "dist_gemm_t rings");
  g.hops_max = rings.hops_max;
  g.colors_per_pe_max = rings.colors_per_pe_max;
  g.colors_used = rings.colors_used;
  for (int y = 0; y < P; ++y)
    for (int x = 0; x < P; ++x)
      g.layout->set_tile_program<DistGemmT>(
          x, y,
          DistGemmT::Params{.P = P, .kx = ring_position(g.ring, x), .ky = ring_position(g.ring, y),
                            .mb = g.sm.block, .kb = g.sk.block, .nb = g.sn.block, .acc32 = cfg.fp32_accumulate,
                            .tx_x = rings.tx_x[std::size_t(x)], .rx_x = rings.rx_x[std::size_t(x)],
                            .tx_b = rings.tx_y[std::size_t(y)], .rx_b = rings.rx_y[std::size_t(y)]});
  for (const char* s : {"a", "b", "c"}) g.layout->export_symbol(s);
  return g;
}

void write_gemm_t_inputs(csl::Layout& layout, const GemmLayout& g, const std::vector<float>& a,
                         const std::vector<float>& b) {
  const auto to_half = [](const std::vector<float>& v) {
    std::vector<f16> h(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) h[i] = f16(v[i]);
    return h;
  };
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
  // Every step zeroes `part` and runs its row loop over the unit-stride rows of A^T.
  const hw::Cycle compute = gemm_zero_cycles(g, ce, "part") + gemm_row_fmac_cycles(g, ce, "part", "a", 0, nb, kb, mb);
  // P = 1: c += part over nb rows of mb, fmac_pitch(mb) apart.
  auto rows = [&](const char* name) {
    hw::MemDsd d = gemm_symbol_dsd(g, name, 0, mb);
    d.dims = 4;
    d.extent = {mb, nb, 1, 1};
    d.stride = {1, std::int32_t(fmac_pitch(mb, f32 ? 4 : 2)), 0, 0};
    return d;
  };
  const hw::Cycle add = ce.op_cycles({.code = f32 ? hw::OpCode::Fadds : hw::OpCode::Faddh, .dest = rows("c"),
                                      .src0 = rows("c"), .src1 = rows("part")},
                                     mb * nb);
  const hw::Cycle edge = 2 * hw::Cycle(arch.router.ramp_latency) + hw::Cycle(arch.router.router_latency) +
                         2 * hw::Cycle(arch.router.hop_latency()) + hw::Cycle(arch.pe.dsd_issue_cycles);
  const hw::Cycle reduce = P == 1 ? add : hw::Cycle(P - 1) * edge + hw::Cycle(mb) * nb;
  hw::Cycle t = gemm_zero_cycles(g, ce, "c");
  for (int s = 0; s < P; ++s) t += sw + compute + reduce + sw + 1;
  return t;
}

}  // namespace wafersim::kernels
