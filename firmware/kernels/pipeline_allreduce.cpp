#include "firmware/kernels/pipeline_allreduce.hpp"


namespace wafersim::kernels {

PlanPtr pipeline_plan(const CollectiveConfig& cfg, const hw::ArchParams& arch) {
  validate(cfg, "pipeline_allreduce");
  const int P = cfg.line_length();
  ColorPool pool(cfg.colors, arch, "pipeline_allreduce");
  auto out = std::make_shared<CollectivePlan>(
      CollectivePlan{.kind = Collective::Pipeline, .name = "pipeline_allreduce", .cfg = cfg, .line = LinePlan(P)});
  LinePlan& plan = out->line;
  if (P > 1) {
    const Color a0 = pool.take("even links"), a1 = pool.take("odd links"), b = pool.take("the broadcast");
    plan.chain(0, P - 1, a0, a1);
    plan.multicast(P - 1, 0, P - 1, b, true);
    plan.assign_loopbacks(pool);  // none needed: every PE joins at most one stream
  }
  return out;
}

CollectiveLayout pipeline_allreduce(const CollectiveConfig& cfg, const hw::ArchParams& arch) {
  return collective_layout({pipeline_plan(cfg, arch)}, "pipeline_allreduce", "allreduce");
}

}  // namespace wafersim::kernels
