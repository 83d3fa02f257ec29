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

std::vector<Color> route_ring(LinePlan& plan, const std::vector<int>& order, ColorPool& pool) {
  const int P = int(order.size());
  std::vector<Color> edge(P, kNoColor), taken;
  if (P < 2) return edge;
  for (int k = 0; k < P; ++k) {
    const int a = order[k], b = order[(k + 1) % P];
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
    // A ring edge is a pass-through stream; the LinePlan records its routes (the ring module has its own program).
    const int d = b > a ? 1 : -1;
    const std::uint8_t fwd = d > 0 ? kHigh : kLow, back = d > 0 ? kLow : kHigh;
    plan.route(a, edge[k], kRamp, fwd);
    for (int p = a + d; p != b; p += d) plan.route(p, edge[k], back, fwd);
    plan.route(b, edge[k], back, kRamp);
  }
  return edge;
}

PlanPtr ring_plan(const CollectiveConfig& cfg, const hw::ArchParams& arch) {
  validate(cfg, "ring_allreduce");
  const int P = cfg.line_length();
  ColorPool pool(cfg.colors, arch, "ring_allreduce");
  auto plan = std::make_shared<CollectivePlan>(
      CollectivePlan{.kind = Collective::Ring, .name = "ring_allreduce", .cfg = cfg, .line = LinePlan(P)});
  plan->ring = interleave_ring(P);
  plan->ring_edges = route_ring(plan->line, plan->ring, pool);
  return plan;
}

CollectiveLayout ring_allreduce(const CollectiveConfig& cfg, const hw::ArchParams& arch) {
  return collective_layout({ring_plan(cfg, arch)}, "ring_allreduce", "allreduce");
}

// ---- the module ---------------------------------------------------------------------------------------------

RingModule::RingModule(csl::Program* p, std::string instance, PlanPtr plan, int pos, csl::ModuleParams params)
    : CollectiveModule(p, std::move(instance), std::move(plan), std::move(params)),
      P_(plan_->line.size()),
      k_(int(std::find(plan_->ring.begin(), plan_->ring.end(), pos) - plan_->ring.begin())),
      join_(this, [this] { joined(); }, "join", task_id()) {
  const hw::ElemType wire = acc_type() == DType::F32 ? hw::ElemType::F32 : hw::ElemType::F16;
  if (convert()) acc_ = std::make_unique<csl::Array<float>>(&program(), symbol_name("acc"), plan_->cfg.length);
  if (P_ > 1) {
    tx_ = fabout({.color = plan_->ring_edges[std::size_t(k_)], .output_queue = output_queue("the ring send"), .type = wire,
                  .simd_mode = wire_simd()});
    rx_ = fabin({.color = plan_->ring_edges[std::size_t((k_ + P_ - 1) % P_)],
                 .input_queue = input_queue("the ring receive", true), .type = wire, .simd_mode = wire_simd()});
  }
}

std::size_t RingModule::host_bytes() const {
  return sizeof(*this) - sizeof(csl::Module) + Module::host_bytes() + (acc_ ? sizeof(csl::ArrayBase) : 0);
}

void RingModule::run(csl::ArrayBase& buf, std::uint32_t n, csl::TaskRef done) {
  buf_ = &buf;
  n_ = n;
  done_ = done;
  if (P_ == 1) {
    activate(done_);
    return;
  }
  block(join_);
  if (convert()) fh2s(csl::mem1d(*acc_, {.extent = n}), csl::mem1d(buf, {.extent = n}));
  step_ = 0;
  issue();
}

// Step s < P-1: reduce-scatter; s >= P-1: allgather. The send activates the join task, the receive unblocks it.
void RingModule::issue() {
  const bool gather = step_ >= P_ - 1;
  const int s = gather ? step_ - (P_ - 1) : step_;
  const int send_c = gather ? mod(k_ + 1 - s) : mod(k_ - s);
  const int recv_c = gather ? mod(k_ - s) : mod(k_ - s - 1);
  const std::uint32_t sn = first(send_c + 1) - first(send_c), rn = first(recv_c + 1) - first(recv_c);
  if (sn == 0) {
    activate(join_);
  } else {
    csl::Fabout out = tx_;
    out.extent = sn;
    fmov(out, csl::mem1d(work(), {.extent = sn, .offset = std::int32_t(first(send_c))}), {.async = true, .activate = join_});
  }
  if (rn == 0) {
    unblock(join_);
    return;
  }
  const auto mem = csl::mem1d(work(), {.extent = rn, .offset = std::int32_t(first(recv_c))});
  csl::Fabin in = rx_;
  in.extent = rn;
  const csl::Async opt{.async = true, .unblock = join_};
  if (gather) fmov(mem, in, opt);
  else if (op() == ReduceOp::Max) fmax(mem, mem, in, opt);
  else fadd(mem, mem, in, opt);
}

void RingModule::joined() {
  block(join_);
  if (++step_ < 2 * (P_ - 1)) {
    issue();
    return;
  }
  if (convert()) fs2h(csl::mem1d(*buf_, {.extent = n_}), csl::mem1d(*acc_, {.extent = n_}));
  activate(done_);
}

}  // namespace wafersim::kernels
