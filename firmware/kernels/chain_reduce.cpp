#include "firmware/kernels/chain_reduce.hpp"

#include "common/error.hpp"
#include "firmware/kernels/stream_tree.hpp"

namespace wafersim::kernels {

CollectiveLayout chain_reduce(const CollectiveConfig& cfg, const hw::ArchParams& arch, int root) {
  validate(cfg, "chain_reduce");
  const int P = cfg.line_length();
  if (root < 0) root = P - 1;
  if (root >= P)
    throw ConfigError("chain_reduce: root " + std::to_string(root) + " is outside the line of " + std::to_string(P) +
                      " PEs");
  ColorPool pool(cfg.colors, arch, "chain_reduce");
  LinePlan plan(P);
  if (P > 1) {
    const Color a0 = pool.take("even links"), a1 = pool.take("odd links"), r = pool.take("the result loopback");
    if (root > 0) plan.chain(0, root, a0, a1);
    if (root < P - 1) plan.chain(P - 1, root, a0, a1);
    plan.multicast(root, root, root, r, true);  // the root's combined stream comes back into its own x
    plan.assign_loopbacks(pool);
  }
  return build_stream_layout(cfg, plan, "chain_reduce", "reduce");
}

}  // namespace wafersim::kernels
