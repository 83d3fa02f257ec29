#include "firmware/kernels/chain_reduce.hpp"

#include "common/error.hpp"

namespace wafersim::kernels {

PlanPtr chain_reduce_plan(const CollectiveConfig& cfg, const hw::ArchParams& arch, int root) {
  validate(cfg, "chain_reduce");
  const int P = cfg.line_length();
  if (root < 0) root = P - 1;
  if (root >= P)
    throw ConfigError("chain_reduce: root " + std::to_string(root) + " is outside the line of " + std::to_string(P) +
                      " PEs");
  ColorPool pool(cfg.colors, arch, "chain_reduce");
  auto out = std::make_shared<CollectivePlan>(
      CollectivePlan{.kind = Collective::ChainReduce, .name = "chain_reduce", .cfg = cfg, .line = LinePlan(P)});
  LinePlan& plan = out->line;
  if (P > 1) {
    const Color a0 = pool.take("even links"), a1 = pool.take("odd links"), r = pool.take("the result loopback");
    if (root > 0) plan.chain(0, root, a0, a1);
    if (root < P - 1) plan.chain(P - 1, root, a0, a1);
    plan.multicast(root, root, root, r, true);  // the root's combined stream comes back into its own x
    plan.assign_loopbacks(pool);
  }
  return out;
}

CollectiveLayout chain_reduce(const CollectiveConfig& cfg, const hw::ArchParams& arch, int root) {
  return collective_layout({chain_reduce_plan(cfg, arch, root)}, "chain_reduce", "reduce");
}

}  // namespace wafersim::kernels
