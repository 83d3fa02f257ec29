#include "firmware/kernels/broadcast.hpp"

#include "common/error.hpp"

namespace wafersim::kernels {

PlanPtr broadcast_plan(const CollectiveConfig& cfg, const hw::ArchParams& arch, int root) {
  validate(cfg, "broadcast");
  const int P = cfg.line_length();
  if (root < 0 || root >= P)
    throw ConfigError("broadcast: root " + std::to_string(root) + " is outside the line of " + std::to_string(P) + " PEs");
  ColorPool pool(cfg.colors, arch, "broadcast");
  auto out = std::make_shared<CollectivePlan>(
      CollectivePlan{.kind = Collective::Broadcast, .name = "broadcast", .cfg = cfg, .line = LinePlan(P)});
  if (P > 1) out->line.multicast(root, 0, P - 1, pool.take("the multicast"), false);
  return out;
}

CollectiveLayout broadcast(const CollectiveConfig& cfg, const hw::ArchParams& arch, int root) {
  return collective_layout({broadcast_plan(cfg, arch, root)}, "broadcast", "broadcast");
}

}  // namespace wafersim::kernels
