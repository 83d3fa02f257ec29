#include "firmware/kernels/meshgemm.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/error.hpp"
#include "firmware/kernels/ring_allreduce.hpp"

namespace wafersim::kernels {
namespace {

using csl::f16;

// Queues of the transfers: sends on OQ 4 (A, either direction) and 5 (B), receives on IQ 1 (A), 2 (B) and 3 (A in
// the reverse direction of the alignment): distinct microthreads, and the receives on the deepest input queues
// (WSE-2: 6, 4, 4 words). A 2-word IQ cannot keep a stream at one wavelet per cycle (a 1024-element B block took
// ~1.5 cycles per element on IQ 4).
constexpr int kSendA = 4, kSendB = 5, kRecvA = 1, kRecvB = 2, kRecvAReverse = 3;

// The per-PE program. Alignment (WaferLLM section 5.3, on the device): the PE starts with A block (ky, kx) and moves
// its row's blocks |align| ring positions, towards the previous position (align > 0, the compute shift's direction)
// or the next one (align < 0), one round per position, so that it holds A(ky, kx + ky) like its pre-skewed B; rows
// take the shorter way round (at most P/2 rounds) and do only their own rounds. Step s (0..P-1) then computes
// C += A[cur] * B[cur] while, if another step follows, A[cur] leaves for the previous ring position along X and
// B[cur] for the previous one along Y, and the next blocks arrive in the other buffers. Each transfer's completion
// activates its own task; the last one to run starts the next round or step.
class ShiftGemm : public GemmProgram {
 public:
  struct Params {
    int P, steps;                       // steps: compute steps run (P unless limited)
    std::uint32_t mb, kb, nb;
    bool acc32;
    int align;                          // alignment rounds: > 0 towards the previous ring position, < 0 the next
    Color tx_a, rx_a, tx_b, rx_b;       // kNoColor when P == 1
    Color tx_ar, rx_ar;                 // the reverse X ring (kNoColor unless align < 0)
  };
  explicit ShiftGemm(Params p)
      : p_(p),
        ldb_(fmac_pitch(p.nb, 2)),
        a_(this, "a", 2 * p.mb * p.kb),
        b_(this, "b", 2 * p.kb * ldb_ + kBankSpare),
        c_(make_acc("c", p.acc32, p.mb, p.nb)),
        align_task_(this, [this] { align(); }, "align"),
        step_task_(this, [this] { step(); }, "step"),
        sent_a_(this, [this] { arrived(); }, "sent_a"),
        sent_b_(this, [this] { arrived(); }, "sent_b"),
        got_a_(this, [this] { arrived(); }, "got_a"),
        got_b_(this, [this] { arrived(); }, "got_b") {
    if (p_.P > 1) {
      tx_a_ = fabout({.extent = p.mb * p.kb, .color = p.tx_a, .output_queue = kSendA, .type = hw::ElemType::F16});
      tx_b_ = fabout({.extent = p.kb * p.nb, .color = p.tx_b, .output_queue = kSendB, .type = hw::ElemType::F16});
      rx_a_ = fabin({.extent = p.mb * p.kb, .color = p.rx_a, .input_queue = kRecvA, .type = hw::ElemType::F16});
      rx_b_ = fabin({.extent = p.kb * p.nb, .color = p.rx_b, .input_queue = kRecvB, .type = hw::ElemType::F16});
    }
    if (p_.align < 0) {
      tx_ar_ = fabout({.extent = p.mb * p.kb, .color = p.tx_ar, .output_queue = kSendA, .type = hw::ElemType::F16});
      rx_ar_ = fabin({.extent = p.mb * p.kb, .color = p.rx_ar, .input_queue = kRecvAReverse,
                      .type = hw::ElemType::F16});
    }
  }
  std::string name() const override { return "shift_gemm"; }

 private:
  void begin() override {
    acur_ = 0;
    rounds_ = std::abs(p_.align);
    activate(rounds_ > 0 ? align_task_ : step_task_);
  }
  // A buffer i of the mb x kb block.
  csl::MemDsd ablock(std::int32_t i) const {
    const std::uint32_t sa = p_.mb * p_.kb;
    return csl::mem1d(a_, {.extent = sa, .offset = i * std::int32_t(sa)});
  }
  void align() {
    const std::int32_t cur = acur_, nxt = 1 - cur;
    acur_ = nxt;
    pending_ = 2;
    next_ = --rounds_ > 0 ? &align_task_ : &step_task_;
    fmov(p_.align > 0 ? tx_a_ : tx_ar_, ablock(cur), {.async = true, .activate = sent_a_});
    fmov(ablock(nxt), p_.align > 0 ? rx_a_ : rx_ar_, {.async = true, .activate = got_a_});
  }
  void step() {
    const std::uint32_t sa = p_.mb * p_.kb, sb = p_.kb * ldb_;
    const std::int32_t acur = acur_, cur = s_ % 2, nxt = 1 - cur;
    // B buffer i: kb rows of nb elements, ldb_ apart.
    auto bbuf = [&](std::int32_t i) {
      return csl::mem4d(b_, {p_.nb, p_.kb, 1, 1}, {1, std::int32_t(ldb_), 0, 0}, i * std::int32_t(sb));
    };
    if (s_ == 0) fmov(*c_, 0.0f);
    if (s_ + 1 < p_.steps) {
      pending_ = 4;
      next_ = &step_task_;
      acur_ = 1 - acur;
      fmov(tx_a_, ablock(acur), {.async = true, .activate = sent_a_});
      fmov(tx_b_, bbuf(cur), {.async = true, .activate = sent_b_});
      fmov(ablock(1 - acur), rx_a_, {.async = true, .activate = got_a_});
      fmov(bbuf(nxt), rx_b_, {.async = true, .activate = got_b_});
    }
    // C[i][:] += A[i][q] * B[q][:], one row operation per (i, q).
    fmac_rows(*c_, b_, std::uint32_t(cur) * sb, a_, std::uint32_t(acur) * sa, p_.mb, p_.kb, p_.nb);
    if (++s_ == p_.steps) done_ = true;
  }
  void arrived() {
    if (--pending_ == 0) activate(*next_);
  }

  Params p_;
  std::uint32_t ldb_;
  csl::Array<f16> a_, b_;
  std::unique_ptr<csl::ArrayBase> c_;
  csl::LocalTask align_task_, step_task_, sent_a_, sent_b_, got_a_, got_b_;
  csl::Fabout tx_a_{}, tx_b_{}, tx_ar_{};
  csl::Fabin rx_a_{}, rx_b_{}, rx_ar_{};
  csl::LocalTask* next_ = nullptr;
  int pending_ = 0, acur_ = 0, rounds_ = 0;
};

// One 2D block (rows x cols, row-major) into rows `ld` apart, zero-padded.
std::vector<f16> pitched(const std::vector<float>& blk, std::uint32_t rows, std::uint32_t cols, std::uint32_t ld) {
  std::vector<f16> h(std::size_t(rows) * ld, f16(0.0f));
  for (std::uint32_t r = 0; r < rows; ++r)
    for (std::uint32_t j = 0; j < cols; ++j) h[std::size_t(r) * ld + j] = f16(blk[std::size_t(r) * cols + j]);
  return h;
}

int position(const std::vector<int>& order, int v) {
  return int(std::find(order.begin(), order.end(), v) - order.begin());
}

}  // namespace

std::uint32_t fmac_pitch(std::uint32_t len, std::uint32_t elem_bytes) {
  const std::uint32_t per8 = 8 / elem_bytes;
  return (len + per8 - 1) / per8 * per8;
}

void GemmProgram::init() {
  export_function("gemm", [this] {
    s_ = 0;
    done_ = false;
    begin();
  });
}

std::unique_ptr<csl::ArrayBase> GemmProgram::make_acc(const char* name, bool acc32, std::uint32_t rows,
                                                      std::uint32_t len) {
  if (acc32) return std::make_unique<csl::Array<float>>(this, name, rows * fmac_pitch(len, 4));
  return std::make_unique<csl::Array<f16>>(this, name, rows * fmac_pitch(len, 2));
}

void GemmProgram::fmac_rows(const csl::ArrayBase& acc, const csl::ArrayBase& src, std::uint32_t src_off,
                            const csl::ArrayBase& scalars, std::uint32_t sc_off, std::uint32_t rows, std::uint32_t kb,
                            std::uint32_t len, std::uint32_t acc_off) {
  const std::int32_t lda = std::int32_t(fmac_pitch(len, acc.elem_bytes()));
  const std::int32_t lds = std::int32_t(fmac_pitch(len, src.elem_bytes()));
  for (std::uint32_t r = 0; r < rows; ++r) {
    const csl::MemDsd row = csl::mem1d(acc, {.extent = len, .offset = std::int32_t(acc_off) + std::int32_t(r) * lda});
    const csl::Dsr d = load_dsr(row), s0 = load_dsr(row);
    csl::Dsr s1 = load_dsr(csl::mem1d(src, {.extent = len, .offset = std::int32_t(src_off)}));
    for (std::uint32_t q = 0; q < kb; ++q) {
      fmac(d, s0, s1, csl::scalar(scalars, sc_off + r * kb + q));
      s1.advance(lds);
    }
  }
}

XyRings route_xy_rings(csl::Layout& layout, int P, const std::vector<int>& order, ColorPool& pool,
                       const std::string& claimant, bool reverse_x, const std::vector<int>& order_y) {
  // Blocks move to the previous ring position: route the reversed order as a ring (edge j: rev[j] -> rev[j+1]);
  // the reverse X ring routes `order` itself (blocks move to the next position).
  const std::vector<int>& oy = order_y.empty() ? order : order_y;
  const int H = int(oy.size());
  const std::vector<int> rev(order.rbegin(), order.rend()), rev_y(oy.rbegin(), oy.rend());
  LinePlan px(P), py(H), pxr(P);
  const std::vector<Color> ex = route_ring(px, rev, pool), ey = route_ring(py, rev_y, pool);
  const std::vector<Color> er = reverse_x ? route_ring(pxr, order, pool) : std::vector<Color>{};
  XyRings r;
  for (int j = 0; j < P && P > 1; ++j) r.hops_max = std::max(r.hops_max, std::abs(rev[j] - rev[(j + 1) % P]));
  for (int p = 0; p < P; ++p) {
    const std::size_t j = std::size_t(position(rev, p)), in = std::size_t((int(j) + P - 1) % P);
    r.tx_x.push_back(ex[j]);
    r.rx_x.push_back(ex[in]);
    if (reverse_x) {
      const std::size_t i = std::size_t(position(order, p)), from = std::size_t((int(i) + P - 1) % P);
      r.tx_xr.push_back(er[i]);
      r.rx_xr.push_back(er[from]);
    }
  }
  for (int p = 0; p < H; ++p) {
    const std::size_t j = std::size_t(position(rev_y, p)), in = std::size_t((int(j) + H - 1) % H);
    r.tx_y.push_back(ey[j]);
    r.rx_y.push_back(ey[in]);
  }
  auto route = [&](const LinePlan& plan, Axis axis, int line) {
    for (const LineRoute& lr : plan.routes()) {
      hw::ColorConfig c;
      c.rx = to_dirs(axis, lr.rx);
      c.tx = to_dirs(axis, lr.tx);
      if (axis == Axis::X) layout.set_color_config(lr.pos, line, lr.color, c, claimant);
      else layout.set_color_config(line, lr.pos, lr.color, c, claimant);
    }
  };
  for (int y = 0; y < H; ++y) {
    route(px, Axis::X, y);
    if (reverse_x) route(pxr, Axis::X, y);
  }
  for (int x = 0; x < P; ++x) route(py, Axis::Y, x);
  r.colors_per_pe_max = px.colors_per_pe_max() + py.colors_per_pe_max() + (reverse_x ? pxr.colors_per_pe_max() : 0);
  r.colors_used = px.colors_used();
  for (Color c : py.colors_used()) r.colors_used.push_back(c);
  if (reverse_x)
    for (Color c : pxr.colors_used()) r.colors_used.push_back(c);
  std::sort(r.colors_used.begin(), r.colors_used.end());
  r.colors_used.erase(std::unique(r.colors_used.begin(), r.colors_used.end()), r.colors_used.end());
  return r;
}

int ring_position(const std::vector<int>& order, int v) { return position(order, v); }

int shift_gemm_align_rounds(int P, int ky) { return ky <= P - ky ? ky : -(P - ky); }

std::uint64_t shift_gemm_sram_bytes(const GemmConfig& cfg) {
  const Split sm(cfg.m, cfg.P), sk(cfg.k, cfg.P), sn(cfg.n, cfg.P);
  const std::uint32_t acc = cfg.fp32_accumulate ? 4 : 2;
  std::uint64_t e = align4(2ull * 2 * sm.block * sk.block);
  e = align4(e + 2ull * (2ull * sk.block * fmac_pitch(sn.block, 2) + kBankSpare));
  return align4(e + std::uint64_t(acc) * sm.block * fmac_pitch(sn.block, acc));
}

GemmLayout plan_gemm(const GemmConfig& cfg, const hw::ArchParams& arch, const std::string& kernel,
                     std::uint64_t (*sram_bytes_of)(const GemmConfig&)) {
  if (cfg.P < 1) throw ConfigError(kernel + ": mesh side P = " + std::to_string(cfg.P) + " must be at least 1");
  if (cfg.m < 1 || cfg.k < 1 || cfg.n < 1)
    throw ConfigError(kernel + ": m, k and n must be at least 1 (got " + std::to_string(cfg.m) + ", " +
                      std::to_string(cfg.k) + ", " + std::to_string(cfg.n) + ")");
  const std::uint64_t limit = arch.pe.sram_bytes > std::uint64_t(arch.pe.code_reserve_bytes)
                                  ? arch.pe.sram_bytes - arch.pe.code_reserve_bytes
                                  : 0;
  const std::uint64_t sram_bytes = sram_bytes_of(cfg);
  if (sram_bytes > limit)
    throw CapacityError(kernel + ": m=" + std::to_string(cfg.m) + " k=" + std::to_string(cfg.k) + " n=" +
                        std::to_string(cfg.n) + " on " + std::to_string(cfg.P) + "x" + std::to_string(cfg.P) +
                        " needs " + std::to_string(sram_bytes) + " bytes of SRAM per PE but only " +
                        std::to_string(limit) + " are free (" + std::to_string(arch.pe.sram_bytes) + " less " +
                        std::to_string(arch.pe.code_reserve_bytes) + " reserved for code, " + arch.name + ")");
  if (cfg.steps < 0 || cfg.steps > cfg.P)
    throw ConfigError(kernel + ": steps = " + std::to_string(cfg.steps) + " outside 0.." + std::to_string(cfg.P) +
                      " (0: all P steps)");
  const int P = cfg.P;
  std::vector<int> ring(static_cast<std::size_t>(P));
  std::iota(ring.begin(), ring.end(), 0);
  return GemmLayout{.layout = std::make_unique<csl::Layout>(P, P), .name = kernel, .cfg = cfg,
                    .sm = Split(cfg.m, P), .sk = Split(cfg.k, P), .sn = Split(cfg.n, P), .ring = ring,
                    .skewed = true, .c_transposed = false, .hops_max = 0, .colors_per_pe_max = 0,
                    .colors_used = {}, .sram_bytes_per_pe = sram_bytes};
}

std::vector<f16> to_half(const std::vector<float>& v) {
  std::vector<f16> h(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) h[i] = f16(v[i]);
  return h;
}

GemmLayout shift_gemm(const GemmConfig& cfg, const hw::ArchParams& arch, const std::vector<int>& order,
                      const std::string& name) {
  GemmLayout g = plan_gemm(cfg, arch, name, shift_gemm_sram_bytes);
  const int P = cfg.P;
  if (cfg.align_rounds < 0 || cfg.align_rounds > P / 2)
    throw ConfigError(name + ": align_rounds = " + std::to_string(cfg.align_rounds) + " outside 0.." +
                      std::to_string(P / 2) + " (0: every row's rounds)");
  g.ring = order;
  ColorPool pool(cfg.colors, arch, name);
  const XyRings rings = route_xy_rings(*g.layout, P, order, pool, name + " rings", P >= 3);
  g.hops_max = rings.hops_max;
  for (int y = 0; y < P; ++y)
    for (int x = 0; x < P; ++x) {
      const int full = shift_gemm_align_rounds(P, position(order, y)),
                align = cfg.align_rounds && std::abs(full) > cfg.align_rounds
                            ? (full > 0 ? cfg.align_rounds : -cfg.align_rounds)
                            : full;
      g.layout->set_tile_program<ShiftGemm>(
          x, y,
          ShiftGemm::Params{.P = P, .steps = cfg.steps ? cfg.steps : P, .mb = g.sm.block, .kb = g.sk.block, .nb = g.sn.block,
                            .acc32 = cfg.fp32_accumulate, .align = align, .tx_a = rings.tx_x[std::size_t(x)],
                            .rx_a = rings.rx_x[std::size_t(x)], .tx_b = rings.tx_y[std::size_t(y)],
                            .rx_b = rings.rx_y[std::size_t(y)],
                            .tx_ar = align < 0 ? rings.tx_xr[std::size_t(x)] : kNoColor,
                            .rx_ar = align < 0 ? rings.rx_xr[std::size_t(x)] : kNoColor});
    }
  for (const char* s : {"a", "b", "c"}) g.layout->export_symbol(s);
  g.colors_per_pe_max = rings.colors_per_pe_max;
  g.colors_used = rings.colors_used;
  return g;
}

GemmLayout meshgemm(const GemmConfig& cfg, const hw::ArchParams& arch) {
  return shift_gemm(cfg, arch, interleave_ring(cfg.P), "meshgemm");
}

void write_gemm_inputs(csl::Layout& layout, const GemmLayout& g, const std::vector<float>& a,
                       const std::vector<float>& b) {
  const int P = g.cfg.P;
  for (int y = 0; y < P; ++y)
    for (int x = 0; x < P; ++x) {
      const int kx = position(g.ring, x), ky = position(g.ring, y), t = (kx + ky) % P;
      layout.write_symbol<f16>(x, y, "a", to_half(block_of(a, g.sm, g.sk, ky, kx)));
      layout.write_symbol<f16>(x, y, "b", pitched(block_of(b, g.sk, g.sn, g.skewed ? t : ky, kx), g.sk.block,
                                                  g.sn.block, fmac_pitch(g.sn.block, 2)));
    }
}

std::vector<float> read_gemm_output(const csl::Layout& layout, const GemmLayout& g) {
  const int P = g.cfg.P;
  std::vector<float> c(std::size_t(g.cfg.m) * g.cfg.n, 0.0f);
  for (int y = 0; y < P; ++y)
    for (int x = 0; x < P; ++x) {
      std::vector<float> raw;
      if (g.cfg.fp32_accumulate) {
        raw = layout.read_symbol<float>(x, y, "c");
      } else {
        for (const f16 h : layout.read_symbol<f16>(x, y, "c")) raw.push_back(h.to_float());
      }
      // Rows of fmac_pitch elements: mb rows of nb (nb rows of mb when transposed).
      const std::uint32_t rows = g.c_transposed ? g.sn.block : g.sm.block;
      const std::uint32_t cols = g.c_transposed ? g.sm.block : g.sn.block;
      const std::uint32_t ld = fmac_pitch(cols, g.cfg.fp32_accumulate ? 4 : 2);
      std::vector<float> blk(std::size_t(g.sm.block) * g.sn.block);
      for (std::uint32_t r = 0; r < rows; ++r)
        for (std::uint32_t j = 0; j < cols; ++j) {
          const float v = raw[std::size_t(r) * ld + j];
          if (g.c_transposed) blk[std::size_t(j) * g.sn.block + r] = v;
          else blk[std::size_t(r) * cols + j] = v;
        }
      put_block(c, g.sm, g.sn, position(g.ring, y), position(g.ring, x), blk);
    }
  return c;
}

hw::MemDsd gemm_symbol_dsd(const GemmLayout& g, const char* name, std::uint32_t offset, std::uint32_t n) {
  const csl::ArrayBase& a = g.layout->program(0, 0).symbol(name);
  hw::MemDsd d;
  d.base = a.address();
  d.elem_bytes = a.elem_bytes();
  d.extent = {n, 1, 1, 1};
  d.offset = std::int32_t(offset);
  return d;
}

hw::Cycle gemm_zero_cycles(const GemmLayout& g, const hw::ComputeEngine& ce, const char* dst) {
  const bool acc32 = g.cfg.fp32_accumulate;
  const std::uint32_t n = g.layout->program(0, 0).symbol(dst).size();
  return ce.op_cycles({.code = acc32 ? hw::OpCode::Fmovs : hw::OpCode::Fmovh, .dest = gemm_symbol_dsd(g, dst, 0, n),
                       .src0 = hw::Immediate{}},
                      n);
}

hw::Cycle gemm_row_fmac_cycles(const GemmLayout& g, const hw::ComputeEngine& ce, const char* dst, const char* src,
                               std::uint32_t src_offset, std::uint32_t rows, std::uint32_t kb, std::uint32_t len,
                               std::uint32_t dst_offset) {
  const bool acc32 = g.cfg.fp32_accumulate;
  hw::MemDsd scalar;  // a pointer to one element: not a DSD to load, not a vector source
  scalar.scalar_ref = true;
  scalar.elem_bytes = 2;
  const std::uint32_t lda = fmac_pitch(len, acc32 ? 4 : 2), lds = fmac_pitch(len, 2);
  hw::Cycle t = 0;
  for (std::uint32_t r = 0; r < rows; ++r) {
    t += 3 * hw::Cycle(ce.arch().pe.dsr_load_cycles);  // the row's three DSD registers
    hw::MemDsd row = gemm_symbol_dsd(g, dst, dst_offset + r * lda, len);
    row.in_dsr = true;
    for (std::uint32_t q = 0; q < kb; ++q) {
      hw::MemDsd s1 = gemm_symbol_dsd(g, src, src_offset + q * lds, len);
      s1.in_dsr = true;
      t += ce.op_cycles({.code = acc32 ? hw::OpCode::Fmachs : hw::OpCode::Fmach, .dest = row, .src0 = row,
                         .src1 = s1, .scalar = scalar},
                        len);
    }
  }
  return t;
}

hw::Cycle shift_gemm_model_cycles(const GemmLayout& g, const hw::ArchParams& arch, const hw::ComputeEngine& ce) {
  const int P = g.cfg.P;
  const std::uint32_t mb = g.sm.block, kb = g.sk.block, nb = g.sn.block;
  const hw::Cycle sw = hw::Cycle(arch.pe.task_switch_cycles);
  const hw::Cycle task = std::max<hw::Cycle>(sw, 1);  // a completion task: task switch, no DSD op, at least a cycle
  // Step s multiplies the B buffer s % 2 (double buffering).
  const hw::Cycle computes[2] = {gemm_row_fmac_cycles(g, ce, "c", "b", 0, mb, kb, nb),
                                 gemm_row_fmac_cycles(g, ce, "c", "b", kb * fmac_pitch(nb, 2), mb, kb, nb)};
  const hw::Cycle zero = gemm_zero_cycles(g, ce, "c");
  if (P == 1) return zero + sw + computes[0];
  // The ring's edges (hops between consecutive ring positions): their mean and the longest.
  int hops_sum = 0;
  for (int j = 0; j < P; ++j) hops_sum += std::abs(g.ring[std::size_t(j)] - g.ring[std::size_t((j + 1) % P)]);
  const double hops_mean = double(hops_sum) / P;
  // A ring edge carrying `elems`: the sender's task switch, the stream's setup, 2 ramps, the router, the hops and the
  // elements, then the receiver's completion task.
  auto edge = [&](double hops, hw::Cycle elems) {
    return double(sw + hw::Cycle(arch.pe.dsd_issue_cycles) + 2 * hw::Cycle(arch.router.ramp_latency) +
                  hw::Cycle(arch.router.router_latency) + elems + task) +
           hops * arch.router.hop_latency();
  };
  const hw::Cycle elems = std::max<hw::Cycle>(hw::Cycle(mb) * kb, hw::Cycle(kb) * nb);
  // No barrier between steps: a PE starts its next step once its own transfers are in, so along a ring the steps
  // advance at the slower of the PE's own step (task switch, FMAC loop, four completion tasks) and the ring's mean
  // edge (a dependency cycle of P edges over P steps); a longer edge than the mean delays the run once (pipeline
  // fill), not every step.
  const double local = double(sw + std::max(computes[0], computes[1]) + 4 * task);
  const double period = std::max(local, edge(hops_mean, elems));
  const double fill = std::max(0.0, edge(g.hops_max, elems) - period);
  // Alignment: the rows with P/2 rounds go last; a round is the A transfer over a mean edge (or the align task and
  // two completion tasks, if longer).
  const double round = std::max(double(sw + 2 * task), edge(hops_mean, hw::Cycle(mb) * kb));
  return zero + hw::Cycle(std::llround(double(P / 2) * round + double(P - 1) * period + fill)) + sw +
         computes[(P - 1) % 2];
}

bool gemm_finished(const GemmLayout& g) {
  for (int y = 0; y < g.layout->height(); ++y)
    for (int x = 0; x < g.layout->width(); ++x)
      if (!dynamic_cast<const GemmProgram&>(g.layout->program(x, y)).finished()) return false;
  return true;
}

double gemm_tolerance(bool fp32_accumulate, std::uint32_t k, double bound) {
  // fmach rounds the product and the sum (2 roundings per term); fmachs only the sum (the product is exact).
  const double u = fp32_accumulate ? std::ldexp(1.0, -24) : std::ldexp(1.0, -11);
  const double roundings = fp32_accumulate ? 1.0 : 2.0;
  return roundings * double(k + 1) * u * bound + 1e-7;
}

}  // namespace wafersim::kernels
