#include "firmware/kernels/summa.hpp"

#include <algorithm>

namespace wafersim::kernels {
namespace {

using csl::f16;
using hw::bit;
using hw::Dir;

// Sends on OQ 4 (A) and 5 (B); receives on IQ 1 (A from the west root side: "east" colour), 2 ("west" colour),
// 3 (B, "south" colour), 6 ("north" colour): distinct microthreads, and the receives on the deepest input queues
// (WSE-2: 6, 4, 4 words; IQs of 2 words cannot keep a stream at one wavelet per cycle, and one of the four
// receives has to take one).
constexpr int kSendA = 4, kSendB = 5, kRecvAE = 1, kRecvAW = 2, kRecvBS = 3, kRecvBN = 6;

struct SummaColors {
  Color a_east, a_west, b_south, b_north;
};

class Summa : public GemmProgram {
 public:
  struct Params {
    int P, x, y;
    std::uint32_t mb, kb, nb;
    bool acc32;
    SummaColors col;
  };
  explicit Summa(Params p)
      : p_(p),
        ldb_(fmac_pitch(p.nb, 2)),
        a_(this, "a", p.mb * p.kb),
        b_(this, "b", p.kb * ldb_),
        abuf_(this, "abuf", 2 * p.mb * p.kb),
        bbuf_(this, "bbuf", 2 * p.kb * ldb_ + kBankSpare),
        c_(make_acc("c", p.acc32, p.mb, p.nb)),
        launch_(this, [this] { post(0); }, "launch"),
        step_task_(this, [this] { step(); }, "step"),
        got_a1_(this, [this] { arrived(); }, "got_a1"),
        got_a2_(this, [this] { arrived(); }, "got_a2"),
        got_b1_(this, [this] { arrived(); }, "got_b1"),
        got_b2_(this, [this] { arrived(); }, "got_b2") {
    const std::uint32_t sa = p.mb * p.kb, sb = p.kb * p.nb;
    const auto f = hw::ElemType::F16;
    if (p_.P > 1) {
      tx_ae_ = fabout({.extent = sa, .color = p.col.a_east, .output_queue = kSendA, .type = f});
      tx_aw_ = fabout({.extent = sa, .color = p.col.a_west, .output_queue = kSendA, .type = f});
      tx_bs_ = fabout({.extent = sb, .color = p.col.b_south, .output_queue = kSendB, .type = f});
      tx_bn_ = fabout({.extent = sb, .color = p.col.b_north, .output_queue = kSendB, .type = f});
      rx_ae_ = fabin({.extent = sa, .color = p.col.a_east, .input_queue = kRecvAE, .type = f});
      rx_aw_ = fabin({.extent = sa, .color = p.col.a_west, .input_queue = kRecvAW, .type = f});
      rx_bs_ = fabin({.extent = sb, .color = p.col.b_south, .input_queue = kRecvBS, .type = f});
      rx_bn_ = fabin({.extent = sb, .color = p.col.b_north, .input_queue = kRecvBN, .type = f});
    }
  }
  std::string name() const override { return "summa"; }

 private:
  void begin() override { activate(p_.P == 1 ? step_task_ : launch_); }
  // Receives the blocks of step t into buffer t % 2 and, as a root of step t, multicasts its own blocks.
  // B (or its buffer i): kb rows of nb elements, ldb_ apart.
  csl::MemDsd brows(const csl::ArrayBase& arr, std::int32_t i) const {
    return csl::mem4d(arr, {p_.nb, p_.kb, 1, 1}, {1, std::int32_t(ldb_), 0, 0}, i * std::int32_t(p_.kb * ldb_));
  }
  void post(int t) {
    const std::uint32_t sa = p_.mb * p_.kb;
    const auto abuf = csl::mem1d(abuf_, {.extent = sa, .offset = std::int32_t((t % 2) * sa)});
    const auto bbuf = brows(bbuf_, t % 2);
    pending_ = 2 + (p_.x == t ? 1 : 0) + (p_.y == t ? 1 : 0);
    if (p_.x == t) {  // root along the row: west stream, then east stream; both come back through the ramp
      fmov(tx_aw_, a_, {.async = true});
      fmov(tx_ae_, a_, {.async = true});
      fmov(abuf, rx_aw_, {.async = true, .activate = got_a2_});
    }
    fmov(abuf, p_.x >= t ? rx_ae_ : rx_aw_, {.async = true, .activate = got_a1_});
    if (p_.y == t) {
      fmov(tx_bn_, brows(b_, 0), {.async = true});
      fmov(tx_bs_, brows(b_, 0), {.async = true});
      fmov(bbuf, rx_bn_, {.async = true, .activate = got_b2_});
    }
    fmov(bbuf, p_.y >= t ? rx_bs_ : rx_bn_, {.async = true, .activate = got_b1_});
  }
  void arrived() {
    if (--pending_ == 0) activate(step_task_);
  }
  void step() {
    const std::uint32_t sa = p_.mb * p_.kb, sb = p_.kb * ldb_;
    const std::uint32_t cur = std::uint32_t(s_ % 2);
    if (s_ == 0) fmov(*c_, 0.0f);
    if (s_ + 1 < p_.P) post(s_ + 1);
    const csl::ArrayBase& a = p_.P == 1 ? static_cast<const csl::ArrayBase&>(a_) : abuf_;
    const csl::ArrayBase& b = p_.P == 1 ? static_cast<const csl::ArrayBase&>(b_) : bbuf_;
    const std::uint32_t ao = p_.P == 1 ? 0 : cur * sa, bo = p_.P == 1 ? 0 : cur * sb;
    fmac_rows(*c_, b, bo, a, ao, p_.mb, p_.kb, p_.nb);
    if (++s_ == p_.P) done_ = true;
  }

  Params p_;
  std::uint32_t ldb_;
  csl::Array<f16> a_, b_, abuf_, bbuf_;
  std::unique_ptr<csl::ArrayBase> c_;
  csl::LocalTask launch_, step_task_, got_a1_, got_a2_, got_b1_, got_b2_;
  csl::Fabout tx_ae_{}, tx_aw_{}, tx_bs_{}, tx_bn_{};
  csl::Fabin rx_ae_{}, rx_aw_{}, rx_bs_{}, rx_bn_{};
  int pending_ = 0;
};

// The route of a multicast colour along a line at position p: from the low side and the ramp to the high side and
// the ramp (`high`), or the reverse.
hw::ColorConfig multicast_route(Axis axis, int p, int P, bool high) {
  const bool first = p == 0, last = p == P - 1;
  hw::ColorConfig c;
  const std::uint8_t in = high ? (first ? 0 : kLow) : (last ? 0 : kHigh);
  const std::uint8_t out = high ? (last ? 0 : kHigh) : (first ? 0 : kLow);
  c.rx = to_dirs(axis, std::uint8_t(in | kRamp));
  c.tx = to_dirs(axis, std::uint8_t(out | kRamp));
  return c;
}

}  // namespace

std::uint64_t summa_sram_bytes(const GemmConfig& cfg) {
  const Split sm(cfg.m, cfg.P), sk(cfg.k, cfg.P), sn(cfg.n, cfg.P);
  const std::uint32_t acc = cfg.fp32_accumulate ? 4 : 2;
  const std::uint64_t sa = 2ull * sm.block * sk.block, sb = 2ull * sk.block * fmac_pitch(sn.block, 2);
  std::uint64_t e = align4(sa);
  e = align4(e + sb);
  e = align4(e + 2 * sa);
  e = align4(e + 2 * sb + 2 * kBankSpare);
  return align4(e + std::uint64_t(acc) * sm.block * fmac_pitch(sn.block, acc));
}

GemmLayout summa_gemm(const GemmConfig& cfg, const hw::ArchParams& arch) {
  GemmLayout g = plan_gemm(cfg, arch, "summa", summa_sram_bytes);
  const int P = cfg.P;
  g.skewed = false;
  g.hops_max = P - 1;
  SummaColors col{};
  if (P > 1) {
    ColorPool pool(cfg.colors, arch, "summa");
    col = {pool.take("A east multicast"), pool.take("A west multicast"), pool.take("B south multicast"),
           pool.take("B north multicast")};
    g.colors_used = {col.a_east, col.a_west, col.b_south, col.b_north};
    std::sort(g.colors_used.begin(), g.colors_used.end());
    g.colors_per_pe_max = 4;
  }
  for (int y = 0; y < P; ++y)
    for (int x = 0; x < P; ++x) {
      g.layout->set_tile_program<Summa>(x, y,
                                        Summa::Params{.P = P, .x = x, .y = y, .mb = g.sm.block, .kb = g.sk.block,
                                                      .nb = g.sn.block, .acc32 = cfg.fp32_accumulate, .col = col});
      if (P == 1) continue;
      const std::string who = "summa multicasts";
      g.layout->set_color_config(x, y, col.a_east, multicast_route(Axis::X, x, P, true), who);
      g.layout->set_color_config(x, y, col.a_west, multicast_route(Axis::X, x, P, false), who);
      g.layout->set_color_config(x, y, col.b_south, multicast_route(Axis::Y, y, P, true), who);
      g.layout->set_color_config(x, y, col.b_north, multicast_route(Axis::Y, y, P, false), who);
    }
  for (const char* s : {"a", "b", "c"}) g.layout->export_symbol(s);
  return g;
}

hw::Cycle summa_model_cycles(const GemmLayout& g, const hw::ArchParams& arch, const hw::ComputeEngine& ce) {
  const int P = g.cfg.P;
  const std::uint32_t mb = g.sm.block, kb = g.sk.block, nb = g.sn.block;
  const hw::Cycle sw = hw::Cycle(arch.pe.task_switch_cycles);
  const hw::Cycle task = std::max<hw::Cycle>(sw, 1);  // a receive completion task: task switch, at least a cycle
  const hw::Cycle zero = gemm_zero_cycles(g, ce, "c");
  if (P == 1) return zero + sw + gemm_row_fmac_cycles(g, ce, "c", "b", 0, mb, kb, nb);
  // Step s multiplies the receive buffers s % 2.
  const hw::Cycle computes[2] = {gemm_row_fmac_cycles(g, ce, "c", "bbuf", 0, mb, kb, nb),
                                 gemm_row_fmac_cycles(g, ce, "c", "bbuf", kb * fmac_pitch(nb, 2), mb, kb, nb)};
  const hw::Cycle elems = std::max<hw::Cycle>(hw::Cycle(mb) * kb, hw::Cycle(kb) * nb);
  auto latency = [&](hw::Cycle hops) {
    return hw::Cycle(arch.pe.dsd_issue_cycles) + 2 * hw::Cycle(arch.router.ramp_latency) +
           hw::Cycle(arch.router.router_latency) + hops * arch.router.hop_latency();
  };
  // The first broadcast reaches the far end of the line (P-1 hops) after the root's west and east streams; the
  // roots also drain both echoes of their own streams (2 more blocks); then the two receive completion tasks.
  const hw::Cycle first = latency(P - 1) + 4 * elems + 2 * task;
  // No barrier between steps: the root moves one PE on per step, so the broadcasts form a wavefront that costs the
  // line's length once (above) and per step the slower of the PE's own step (task switch, FMAC loop, two completion
  // tasks) and the next root's two streams over 2 hop latencies (measured: one hop plus a cycle the model does not
  // attribute) with its task switch and the completion tasks.
  const hw::Cycle local = sw + std::max(computes[0], computes[1]) + 2 * task;
  const hw::Cycle period = std::max(local, sw + latency(2) + 2 * elems + 2 * task);
  return zero + sw + first + hw::Cycle(P - 1) * period + computes[(P - 1) % 2];
}

}  // namespace wafersim::kernels
