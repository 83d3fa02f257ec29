#include "firmware/kernels/ring_allreduce.hpp"

#include <algorithm>

#include "common/error.hpp"

namespace wafersim::kernels {

std::vector<int> interleave_ring(int P) {
  std::vector<int> r;
  for (int i = 0; i < P; i += 2) r.push_back(i);
  for (int i = (P % 2 == 0 ? P - 1 : P - 2); i >= 1; i -= 2) r.push_back(i);
  return r;
}

namespace {

constexpr int kSendOq = 2, kRecvIq = 1;

// One PE of the ring: k = its ring position; chunk c covers [first(c), first(c+1)).
class RingProgram : public CollectiveProgram {
 public:
  RingProgram(const CollectiveConfig& cfg, int P, int k, Color in, Color out)
      : cfg_(cfg), P_(P), k_(k), in_(in), out_(out) {
    if (cfg_.dtype == DType::F32) x_ = std::make_unique<csl::Array<float>>(this, "x", cfg_.length);
    else x_ = std::make_unique<csl::Array<csl::f16>>(this, "x", cfg_.length);
    if (convert()) acc_ = std::make_unique<csl::Array<float>>(this, "acc", cfg_.length);
    if (P_ > 1) rx_ = fabin({.extent = 0, .color = in_, .input_queue = kRecvIq});
  }
  std::string name() const override { return "ring_allreduce"; }
  void init() override {
    export_function("allreduce", [this] { activate(start_); });
    block(join_);
  }
  bool finished() const override { return finished_; }

 private:
  bool convert() const { return cfg_.acc_type() != cfg_.dtype; }
  csl::ArrayBase& work() { return convert() ? *acc_ : *x_; }
  std::uint32_t first(int c) const { return std::uint32_t(std::uint64_t(cfg_.length) * c / P_); }
  int mod(int v) const { return ((v % P_) + P_) % P_; }

  void begin() {
    if (P_ == 1) {
      finished_ = true;
      return;
    }
    if (convert()) fh2s(*acc_, *x_);
    step_ = 0;
    issue();
  }
  // Step s < P-1: reduce-scatter; s >= P-1: allgather.
  void issue() {
    const bool gather = step_ >= P_ - 1;
    const int s = gather ? step_ - (P_ - 1) : step_;
    const int send_c = gather ? mod(k_ + 1 - s) : mod(k_ - s);
    const int recv_c = gather ? mod(k_ - s) : mod(k_ - s - 1);
    const std::uint32_t sn = first(send_c + 1) - first(send_c), rn = first(recv_c + 1) - first(recv_c);
    const bool f32 = cfg_.acc_type() == DType::F32;
    if (sn == 0) {
      activate(join_);
    } else {
      const auto src = csl::mem1d(work(), {.extent = sn, .offset = std::int32_t(first(send_c))});
      const auto dst = fabout({.extent = sn, .color = out_, .output_queue = kSendOq});
      if (f32) fmovs(dst, src, {.async = true, .activate = join_});
      else fmovh(dst, src, {.async = true, .activate = join_});
    }
    if (rn == 0) {
      unblock(join_);
    } else {
      const auto mem = csl::mem1d(work(), {.extent = rn, .offset = std::int32_t(first(recv_c))});
      hw::FabinDsd in = rx_;
      in.extent = rn;
      const csl::Async opt{.async = true, .unblock = join_};
      if (gather) {
        if (f32) fmovs(mem, in, opt);
        else fmovh(mem, in, opt);
      } else if (cfg_.op == ReduceOp::Max) {
        if (f32) fmaxs(mem, mem, in, opt);
        else fmaxh(mem, mem, in, opt);
      } else {
        if (f32) fadds(mem, mem, in, opt);
        else faddh(mem, mem, in, opt);
      }
    }
  }
  void joined() {
    block(join_);
    if (++step_ < 2 * (P_ - 1)) {
      issue();
      return;
    }
    if (convert()) fs2h(*x_, *acc_);
    finished_ = true;
  }

  CollectiveConfig cfg_;
  int P_, k_;
  Color in_, out_;
  std::unique_ptr<csl::ArrayBase> x_, acc_;
  hw::FabinDsd rx_{};
  csl::LocalTask start_{this, [this] { begin(); }, "start"};
  csl::LocalTask join_{this, [this] { joined(); }, "join"};
  int step_ = 0;
  bool finished_ = false;
};

}  // namespace

CollectiveLayout ring_allreduce(const CollectiveConfig& cfg, const hw::ArchParams& arch) {
  validate(cfg, "ring_allreduce");
  const int P = cfg.line_length();
  ColorPool pool(cfg.colors, arch, "ring_allreduce");
  LinePlan plan(P);
  const auto ring = interleave_ring(P);
  std::vector<Color> edge(P, kNoColor);  // edge k: ring[k] -> ring[k+1]
  std::vector<Color> taken;
  if (P > 1) {
    for (int k = 0; k < P; ++k) {
      const int a = ring[k], b = ring[(k + 1) % P];
      const int lo = std::min(a, b), hi = std::max(a, b);
      for (std::size_t i = 0;; ++i) {
        if (i == taken.size()) taken.push_back(pool.take("ring edges"));
        bool free = true;
        for (int p = lo; p <= hi && free; ++p) free = !plan.uses(p, taken[i]);
        if (free) {
          edge[k] = taken[i];
          break;
        }
      }
      // A ring edge is a pass-through stream; the LinePlan only records its routes (the ring has its own program).
      const int d = b > a ? 1 : -1;
      const std::uint8_t fwd = d > 0 ? kHigh : kLow, back = d > 0 ? kLow : kHigh;
      plan.route(a, edge[k], kRamp, fwd);
      for (int p = a + d; p != b; p += d) plan.route(p, edge[k], back, fwd);
      plan.route(b, edge[k], back, kRamp);
    }
  }
  std::vector<int> pos_in_ring(P);
  for (int k = 0; k < P; ++k) pos_in_ring[ring[k]] = k;
  CollectiveLayout out;
  out.config = cfg;
  out.function = "allreduce";
  out.layout = std::make_unique<csl::Layout>(cfg.width, cfg.height);
  for (int l = 0; l < cfg.lines(); ++l)
    for (int p = 0; p < P; ++p) {
      int x, y;
      line_to_xy(cfg, l, p, x, y);
      const int k = pos_in_ring[p];
      const Color in = P > 1 ? edge[(k + P - 1) % P] : kNoColor, o = P > 1 ? edge[k] : kNoColor;
      out.layout->set_tile_code(x, y, [cfg, P, k, in, o](int, int) { return std::make_unique<RingProgram>(cfg, P, k, in, o); });
    }
  finish_layout(out, cfg, plan);
  return out;
}

}  // namespace wafersim::kernels
