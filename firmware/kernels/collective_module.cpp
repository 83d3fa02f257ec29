#include "firmware/kernels/collective_module.hpp"

#include <algorithm>
#include <stdexcept>

#include "common/error.hpp"
#include "firmware/kernels/ring_allreduce.hpp"
#include "firmware/kernels/stream_tree.hpp"

namespace wafersim::kernels {

void CollectivePlan::apply_routes(csl::Layout& layout, const std::string& instance) const {
  const std::string claimant = "module '" + instance + "' (" + name + ")";
  for (int l = 0; l < cfg.lines(); ++l)
    for (const LineRoute& r : line.routes()) {
      int x, y;
      line_to_xy(cfg, l, r.pos, x, y);
      layout.set_color_config(x, y, r.color, csl::route(to_dirs(cfg.axis, r.rx), to_dirs(cfg.axis, r.tx)), claimant);
    }
}

std::vector<Color> remaining_colors(const CollectivePlan& plan, const std::vector<Color>& pool,
                                    const hw::ArchParams& arch) {
  const auto used = plan.line.colors_used();
  std::vector<Color> left;
  const ColorPool all(pool, arch, plan.name);
  for (Color c : all.all())
    if (std::find(used.begin(), used.end(), c) == used.end()) left.push_back(c);
  return left;
}

// ---- module ---------------------------------------------------------------------------------------------------

CollectiveModule::CollectiveModule(csl::Program* p, std::string instance, PlanPtr plan, csl::ModuleParams params)
    : csl::Module(p, std::move(instance), plan->name, std::move(params)), plan_(std::move(plan)), op_(plan_->cfg.op) {}

void CollectiveModule::enter(const char* entry, bool allowed, csl::ArrayBase& buf, std::uint32_t n,
                             const csl::Async& opt, ReduceOp op) {
  if (!allowed) throw std::logic_error(claimant() + ": has no entry '" + entry + "'");
  if (plan_->cfg.acc_type(op) != acc_type())
    throw std::invalid_argument(claimant() + ": " + entry + " as a " + to_string(op) + " of '" + buf.name() +
                                "': the module's partials travel as " + to_string(acc_type()) + " (a " +
                                to_string(plan_->cfg.op) + " plan with fp32 accumulation)");
  const DType t = plan_->cfg.dtype;
  if (buf.elem_type() != (t == DType::F32 ? hw::ElemType::F32 : hw::ElemType::F16))
    throw std::invalid_argument(claimant() + ": " + entry + " on '" + buf.name() + "': the module's data type is " +
                                to_string(t));
  if (n < 1 || n > plan_->cfg.length || n > buf.size())
    throw std::invalid_argument(claimant() + ": " + entry + " of " + std::to_string(n) + " elements of '" + buf.name() +
                                "' (1.." + std::to_string(std::min(plan_->cfg.length, buf.size())) + ")");
  op_ = op;
  run(buf, n, opt.activate);
}

void CollectiveModule::allreduce(csl::ArrayBase& buf, std::uint32_t n, csl::Async opt, std::optional<ReduceOp> op) {
  const Collective k = plan_->kind;
  enter("allreduce", k == Collective::KTree || k == Collective::Pipeline || k == Collective::Ring, buf, n, opt,
        op.value_or(plan_->cfg.op));
}
void CollectiveModule::reduce(csl::ArrayBase& buf, std::uint32_t n, csl::Async opt) {
  enter("reduce", plan_->kind == Collective::ChainReduce, buf, n, opt, plan_->cfg.op);
}
void CollectiveModule::broadcast(csl::ArrayBase& buf, std::uint32_t n, csl::Async opt) {
  enter("broadcast", plan_->kind == Collective::Broadcast, buf, n, opt, plan_->cfg.op);
}

void CollectiveModule::start(csl::ArrayBase& buf, std::uint32_t n, csl::Async opt) {
  switch (plan_->kind) {
    case Collective::Broadcast: return broadcast(buf, n, opt);
    case Collective::ChainReduce: return reduce(buf, n, opt);
    default: return allreduce(buf, n, opt);
  }
}

std::unique_ptr<CollectiveModule> instantiate(csl::Program* p, std::string instance, PlanPtr plan, int x, int y,
                                              csl::ModuleParams params) {
  const int pos = plan->position(x, y);
  if (plan->kind == Collective::Ring)
    return std::make_unique<RingModule>(p, std::move(instance), std::move(plan), pos, std::move(params));
  return std::make_unique<StreamModule>(p, std::move(instance), std::move(plan), pos, std::move(params));
}

// ---- the builders' program ------------------------------------------------------------------------------------

namespace {
std::string instance_name(const std::vector<PlanPtr>& phases, std::size_t i) {
  const char* base = phases[i]->cfg.axis == Axis::X ? "rows" : "cols";
  std::size_t same = 0;
  for (std::size_t j = 0; j < i; ++j) same += phases[j]->cfg.axis == phases[i]->cfg.axis ? 1 : 0;
  return same == 0 ? base : base + std::to_string(same + 1);
}
}  // namespace

CollectiveProgram::CollectiveProgram(const std::vector<PlanPtr>& phases, std::string name, const std::string& function,
                                     int x, int y)
    : name_(std::move(name)), function_(function) {
  const CollectiveConfig& cfg = phases.at(0)->cfg;
  if (cfg.dtype == DType::F32) x_ = std::make_unique<csl::Array<float>>(this, "x", cfg.length);
  else x_ = std::make_unique<csl::Array<csl::f16>>(this, "x", cfg.length);
  for (std::size_t i = 0; i < phases.size(); ++i) modules_.push_back(instantiate(this, instance_name(phases, i), phases[i], x, y));
}

void CollectiveProgram::init() {
  export_function(function_, [this] {
    next_ = 0;
    finished_ = false;
    activate(step_);
  });
}

std::size_t CollectiveProgram::host_bytes() const {
  std::size_t n = sizeof(*this) - sizeof(csl::Program) + csl::Program::host_bytes() + sizeof(csl::ArrayBase) +
                  modules_.capacity() * sizeof(modules_[0]);
  for (const auto& m : modules_) n += m->host_bytes();
  return n;
}

// Runs the next phase on x; its completion activates this task again.
void CollectiveProgram::step() {
  if (next_ == modules_.size()) {
    finished_ = true;
    return;
  }
  modules_[next_++]->start(*x_, x_->size(), {.activate = step_});
}

CollectiveLayout collective_layout(std::vector<PlanPtr> phases, const std::string& name, const std::string& function) {
  const CollectiveConfig& cfg = phases.at(0)->cfg;
  for (const PlanPtr& p : phases)
    if (p->cfg.width != cfg.width || p->cfg.height != cfg.height || p->cfg.dtype != cfg.dtype ||
        p->cfg.length != cfg.length)
      throw ConfigError(name + ": every phase must cover the same rectangle with the same data type and length");
  CollectiveLayout out;
  out.config = cfg;
  out.function = function;
  out.layout = std::make_unique<csl::Layout>(cfg.width, cfg.height);
  out.layout->set_tile_code(0, 0, cfg.width, cfg.height, [phases, name, function](int px, int py) {
    return std::make_unique<CollectiveProgram>(phases, name, function, px, py);
  });
  // Colours per PE: the phases' routes add up at a PE (X phase at its column position, Y phase at its row).
  int per_axis[2] = {0, 0};
  std::vector<Color> used;
  for (std::size_t i = 0; i < phases.size(); ++i) {
    phases[i]->apply_routes(*out.layout, instance_name(phases, i));
    per_axis[phases[i]->cfg.axis == Axis::X ? 0 : 1] += phases[i]->line.colors_per_pe_max();
    for (Color c : phases[i]->line.colors_used()) used.push_back(c);
  }
  std::sort(used.begin(), used.end());
  used.erase(std::unique(used.begin(), used.end()), used.end());
  out.layout->export_symbol("x");
  out.colors_per_pe_max = per_axis[0] + per_axis[1];
  out.colors_used = used;
  out.plan = std::shared_ptr<const LinePlan>(phases[0], &phases[0]->line);
  out.phases = std::move(phases);
  return out;
}

CollectiveLayout allreduce_xy(const CollectiveConfig& cfg, const hw::ArchParams& arch,
                              const std::function<PlanPtr(const CollectiveConfig&)>& plan) {
  CollectiveConfig cx = cfg, cy = cfg;
  cx.axis = Axis::X;
  cy.axis = Axis::Y;
  PlanPtr px = plan(cx);
  cy.colors = remaining_colors(*px, cfg.colors, arch);
  if (cy.colors.empty())
    throw CapacityError(std::string(px->name) + " along X uses every given colour: none is left for the Y phase");
  return collective_layout({px, plan(cy)}, "allreduce_xy", "allreduce");
}

}  // namespace wafersim::kernels
