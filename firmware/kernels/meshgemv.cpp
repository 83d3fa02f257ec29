#include "firmware/kernels/meshgemv.hpp"

#include <algorithm>
#include <cmath>

#include "common/error.hpp"
#include "firmware/kernels/cost_model.hpp"
#include "firmware/kernels/pipeline_allreduce.hpp"
#include "firmware/kernels/ring_allreduce.hpp"
#include "hw/compute_engine.hpp"

namespace wafersim::kernels {

const char* to_string(GemvAlgo a) {
  switch (a) {
    case GemvAlgo::Mesh: return "mesh";
    case GemvAlgo::Pipeline: return "pipeline";
    case GemvAlgo::Ring: return "ring";
  }
  return "?";
}

namespace {

// Bank-aware placement of the per-PE arrays (declaration order W, x, y, 4-byte aligned, as csl::Program::attach
// allocates them). Every FMAC reads two vectors, the y block and a W row; the SDK's bank rule (docs/firmware.md)
// wants their 16-bit start words unequal modulo 4. W rows are stored `ld` = nb rounded up to a multiple of 4
// elements apart, so every row starts at the same bank as W[0], and x is sized (one pair of spare elements when
// needed) so that y starts 4 bytes past that bank, modulo 8 bytes (the SDK's +4-byte advice).
struct Placement {
  std::uint32_t ld, xcap;  // W row pitch (elements), x array length (elements, >= kb)
  std::uint64_t w, x, y, end;
};
std::uint32_t row_pitch(std::uint32_t nb) { return (nb + 3) / 4 * 4; }
Placement place(std::uint32_t kb, std::uint32_t nb, bool fp32, const hw::ArchParams& arch) {
  Placement p;
  p.ld = row_pitch(nb);
  p.xcap = align4(2ull * kb) % 8 == 4 ? kb : kb + 2;
  p.w = align4(arch.pe.code_reserve_bytes);
  p.x = align4(p.w + 2ull * kb * p.ld);
  p.y = align4(p.x + 2ull * p.xcap);
  p.end = p.y + std::uint64_t(fp32 ? 4 : 2) * nb;
  return p;
}

// One PE's program, as in CSL: zero y, y += W[r, :] * x[r] for every row r of the W block, then allreduce y along
// the row with the collective module of the algorithm. The row loop loads its three DSDs into DSD registers once
// (CSL @load_to_dsr: y as destination and as source, the first W row) and moves the W register one row on after
// each FMAC (@increment_dsd_offset), so a row costs the FMAC's issue and SIMD chunks only. The loop's scalar
// instructions (counter, offset increment, loading x[r]) are not charged: the model charges scalar code only where
// a kernel states it (an @map loop would add pe.map_element_cycles per row).
class GemvProgram : public csl::Program {
 public:
  GemvProgram(PlanPtr plan, std::uint32_t kb, std::uint32_t nb, const Placement& at, bool fp32, int x, int y)
      : kb_(kb), nb_(nb), ld_(at.ld), xcap_(at.xcap), fp32_(fp32) {
    if (fp32) y_ = std::make_unique<csl::Array<float>>(this, "y", nb);
    else y_ = std::make_unique<csl::Array<csl::f16>>(this, "y", nb);
    reduce_ = instantiate(this, "rows", std::move(plan), x, y);
  }
  std::string name() const override { return "meshgemv"; }
  void init() override {
    export_function("gemv", [this] {
      finished_ = false;
      activate(compute_);
    });
  }
  bool finished() const { return finished_; }

 private:
  void compute() {
    fmov(*y_, 0.0);
    const csl::Dsr yd = load_dsr(csl::mem1d(*y_)), ys = load_dsr(csl::mem1d(*y_));
    csl::Dsr row = load_dsr(csl::mem1d(w_, {.extent = nb_}));
    for (std::uint32_t r = 0; r < kb_; ++r) {
      if (fp32_) fmachs(yd, ys, row, csl::scalar(x_, r));
      else fmach(yd, ys, row, csl::scalar(x_, r));
      row.advance(std::int32_t(ld_));
    }
    reduce_->allreduce(*y_, nb_, {.activate = done_});
  }

  std::uint32_t kb_, nb_, ld_, xcap_;
  bool fp32_;
  csl::Array<csl::f16> w_{this, "W", kb_ * ld_};
  csl::Array<csl::f16> x_{this, "x", xcap_};
  std::unique_ptr<csl::ArrayBase> y_;
  std::unique_ptr<CollectiveModule> reduce_;
  bool finished_ = false;
  csl::LocalTask compute_{this, [this] { compute(); }, "compute"};
  csl::LocalTask done_{this, [this] { finished_ = true; }, "done"};
};

CollectiveConfig allreduce_config(const GemvConfig& cfg, std::uint32_t nb) {
  return {.width = cfg.P, .height = gemv_height(cfg), .axis = Axis::X, .length = nb,
          .dtype = cfg.fp32_accumulate ? DType::F32 : DType::F16, .op = ReduceOp::Sum, .colors = cfg.colors};
}

}  // namespace

std::uint64_t gemv_sram_bytes_per_pe(const GemvConfig& cfg, const hw::ArchParams& arch) {
  const Split ks(cfg.k, cfg.P), ns(cfg.n, gemv_height(cfg));
  return place(ks.block, ns.block, cfg.fp32_accumulate, arch).end - align4(arch.pe.code_reserve_bytes);
}

GemvLayout meshgemv(const GemvConfig& cfg, const hw::ArchParams& arch) {
  if (cfg.P < 1 || cfg.height < 0)
    throw ConfigError("meshgemv: the region's width P = " + std::to_string(cfg.P) + " must be at least 1 and its height " +
                      std::to_string(cfg.height) + " at least 1 (0: P)");
  if (cfg.k < 1 || cfg.n < 1)
    throw ConfigError("meshgemv: K = " + std::to_string(cfg.k) + " and N = " + std::to_string(cfg.n) +
                      " must be at least 1");
  GemvLayout g;
  g.cfg = cfg;
  g.ks = Split(cfg.k, cfg.P);
  g.ns = Split(cfg.n, gemv_height(cfg));
  const std::uint32_t kb = g.ks.block, nb = g.ns.block;
  const Placement at = place(kb, nb, cfg.fp32_accumulate, arch);
  g.sram_bytes_per_pe = at.end - at.w;
  if (at.end > arch.pe.sram_bytes)
    throw CapacityError("meshgemv: every PE holds a " + std::to_string(kb) + "x" + std::to_string(nb) +
                        " fp16 W block (rows padded to " + std::to_string(at.ld) + "), " + std::to_string(kb) + " x and " + std::to_string(nb) + " y elements (" +
                        std::to_string(g.sram_bytes_per_pe) + " bytes) but a PE has " +
                        std::to_string(arch.pe.sram_bytes - at.w) + " bytes of SRAM (" +
                        std::to_string(arch.pe.sram_bytes) + " less " + std::to_string(arch.pe.code_reserve_bytes) +
                        " reserved for code, " + arch.name + "): use a larger mesh");
  const CollectiveConfig cc = allreduce_config(cfg, nb);
  switch (cfg.algo) {
    case GemvAlgo::Mesh: g.plan = ktree_plan(cc, arch, cfg.ktree); break;
    case GemvAlgo::Pipeline: g.plan = pipeline_plan(cc, arch); break;
    case GemvAlgo::Ring: g.plan = ring_plan(cc, arch); break;
  }
  g.colors_per_pe_max = g.plan->line.colors_per_pe_max();
  const int budget = arch.router.routable_colors - int(arch.host_io.reserved_colors.size());
  if (g.colors_per_pe_max > budget)
    throw CapacityError(std::string("meshgemv: the ") + g.plan->name + " needs " +
                        std::to_string(g.colors_per_pe_max) + " colours at a PE, over the budget of " +
                        std::to_string(budget) + " (" + arch.name + ")");
  const int H = gemv_height(cfg);
  g.layout = std::make_unique<csl::Layout>(cfg.P, H);
  const bool fp32 = cfg.fp32_accumulate;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < cfg.P; ++x)
      g.layout->set_tile_code(x, y, [plan = g.plan, kb, nb, at, fp32](int px, int py) {
        return std::make_unique<GemvProgram>(plan, kb, nb, at, fp32, px, py);
      });
  g.plan->apply_routes(*g.layout, "rows");
  for (const char* s : {"W", "x", "y"}) g.layout->export_symbol(s);
  return g;
}

void write_gemv_inputs(GemvLayout& g, const std::vector<float>& x, const std::vector<float>& w) {
  const GemvConfig& c = g.cfg;
  if (x.size() != c.k || w.size() != std::size_t(c.k) * c.n)
    throw ConfigError("meshgemv: inputs must be x[" + std::to_string(c.k) + "] and W[" + std::to_string(c.k) + "x" +
                      std::to_string(c.n) + "]");
  const Split one(1, 1);
  const std::uint32_t ld = row_pitch(g.ns.block);
  for (int py = 0; py < gemv_height(c); ++py)
    for (int px = 0; px < c.P; ++px) {
      const std::vector<float> blk = block_of(w, g.ks, g.ns, px, py);
      std::vector<csl::f16> wh(std::size_t(g.ks.block) * ld, csl::f16(0.0f));
      for (std::uint32_t r = 0; r < g.ks.block; ++r)
        for (std::uint32_t j = 0; j < g.ns.block; ++j) wh[std::size_t(r) * ld + j] = csl::f16(blk[std::size_t(r) * g.ns.block + j]);
      std::vector<csl::f16> xh;
      for (float v : block_of(x, one, g.ks, 0, px)) xh.push_back(csl::f16(v));
      g.layout->write_symbol(px, py, "W", wh);
      g.layout->write_symbol(px, py, "x", xh);
    }
}

std::vector<float> read_gemv_output(const GemvLayout& g) {
  const Split one(1, 1);
  std::vector<float> y(g.cfg.n);
  for (int py = 0; py < gemv_height(g.cfg); ++py) {
    std::vector<float> block;
    if (g.cfg.fp32_accumulate) {
      block = g.layout->read_symbol<float>(0, py, "y");
    } else {
      for (csl::f16 h : g.layout->read_symbol<csl::f16>(0, py, "y")) block.push_back(h.to_float());
    }
    put_block(y, one, g.ns, 0, py, block);
  }
  return y;
}

bool gemv_finished(const GemvLayout& g) {
  for (int y = 0; y < gemv_height(g.cfg); ++y)
    for (int x = 0; x < g.cfg.P; ++x)
      if (!static_cast<const GemvProgram&>(g.layout->program(x, y)).finished()) return false;
  return true;
}

std::vector<double> gemv_error_bounds(const GemvConfig& cfg, const std::vector<float>& x, const std::vector<float>& w) {
  const bool fp16 = !cfg.fp32_accumulate;
  const double u = fp16 ? std::ldexp(1.0, -11) : std::ldexp(1.0, -24);
  const Split ks(cfg.k, cfg.P);
  std::vector<double> bound(cfg.n, 0.0);
  for (std::uint32_t j = 0; j < cfg.n; ++j) {
    double local = 0, blocks = 0, y = 0;
    for (int p = 0; p < cfg.P; ++p) {
      double s = 0;
      for (std::uint32_t r = ks.first(p); r < ks.first(p) + ks.valid(p); ++r) {
        const double prod = double(x[r]) * w[std::size_t(r) * cfg.n + j];
        s += prod;
        local += std::abs(s) + (fp16 ? std::abs(prod) : 0.0);
      }
      blocks += std::abs(s);
      y += s;
    }
    bound[j] = 1.05 * u * (local + (cfg.P - 1) * blocks + std::abs(y));
  }
  return bound;
}

hw::Cycle gemv_local_cycles(const GemvConfig& cfg, const hw::ArchParams& arch) {
  // A scratch compute engine prices the program's own operations (op_cycles: SIMD width, stride caps and, when
  // enabled, bank conflicts from the operands' addresses).
  const Split ks(cfg.k, cfg.P), ns(cfg.n, gemv_height(cfg));
  const std::uint32_t kb = ks.block, nb = ns.block;
  const bool fp32 = cfg.fp32_accumulate;
  const Placement at = place(kb, nb, fp32, arch);
  hw::Sram sram(arch.pe.sram_bytes, arch.pe.code_reserve_bytes, false);
  hw::PeQueues queues(0, arch.queues.input_depths, arch.queues.output_depths, nullptr);
  const hw::ComputeEngine ce(arch, 0, 0, sram, queues);
  auto vec = [](std::uint64_t base, std::uint8_t bytes, std::uint32_t n, bool in_dsr) {
    hw::MemDsd d;
    d.base = std::uint32_t(base);
    d.elem_bytes = bytes;
    d.extent = {n, 1, 1, 1};
    d.in_dsr = in_dsr;
    return d;
  };
  const std::uint8_t yb = fp32 ? 4 : 2;
  hw::Cycle t = ce.op_cycles(
      {.code = fp32 ? hw::OpCode::Fmovs : hw::OpCode::Fmovh, .dest = vec(at.y, yb, nb, false), .src0 = hw::Immediate{}},
      nb);
  t += 3 * hw::Cycle(arch.pe.dsr_load_cycles);  // y (destination, source) and the W row into DSD registers
  const hw::MemDsd y = vec(at.y, yb, nb, true);
  for (std::uint32_t r = 0; r < kb; ++r) {
    hw::MemDsd xr = vec(at.x + 2ull * r, 2, 1, false);
    xr.scalar_ref = true;
    t += ce.op_cycles({.code = fp32 ? hw::OpCode::Fmachs : hw::OpCode::Fmach, .dest = y, .src0 = y,
                       .src1 = vec(at.w + 2ull * r * at.ld, 2, nb, true), .scalar = xr},
                      nb);
  }
  return t;
}

namespace {
// The ring allreduce of n elements: 2(P - 1) steps in lock step; a step is the join task's switch, the send's DSD
// setup, the stream latency over the longest ring edge and the largest chunk's remaining elements.
hw::Cycle ring_cycles(const CollectivePlan& plan, const hw::ArchParams& arch, std::uint32_t n) {
  const int P = plan.line.size();
  if (P == 1) return 0;
  int hops = 0;
  std::uint32_t chunk = 0;
  for (int i = 0; i < P; ++i) {
    hops = std::max(hops, std::abs(plan.ring[std::size_t(i)] - plan.ring[std::size_t((i + 1) % P)]));
    chunk = std::max(chunk, std::uint32_t(std::uint64_t(n) * (i + 1) / P - std::uint64_t(n) * i / P));
  }
  const hw::Cycle latency = 2u * arch.router.ramp_latency + arch.router.router_latency +
                            hw::Cycle(hops) * arch.router.hop_latency();
  const hw::Cycle step = hw::Cycle(arch.pe.task_switch_cycles) + arch.pe.dsd_issue_cycles + latency + chunk - 1;
  return 2 * hw::Cycle(P - 1) * step;
}
}  // namespace

std::pair<hw::Cycle, hw::Cycle> gemv_model_cycles(const GemvLayout& g, const hw::ArchParams& arch) {
  const hw::Cycle local = gemv_local_cycles(g.cfg, arch);
  if (g.cfg.algo == GemvAlgo::Ring) {
    const hw::Cycle t = local + ring_cycles(*g.plan, arch, g.ns.block);
    return {t, t};
  }
  CollectiveLayout c;
  c.phases = {g.plan};
  const auto m = predicted_cycles(c, arch, g.ns.block);
  return {m.first + local, m.second + local};
}

const char* gemv_model_kind(const GemvLayout& g) {
  return g.cfg.algo == GemvAlgo::Ring ? "estimate" : g.ns.block == 1 ? "exact" : "lower bound";
}

}  // namespace wafersim::kernels
