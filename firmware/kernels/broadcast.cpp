#include "firmware/kernels/broadcast.hpp"

#include "common/error.hpp"
#include "firmware/kernels/stream_tree.hpp"

namespace wafersim::kernels {

CollectiveLayout broadcast(const CollectiveConfig& cfg, const hw::ArchParams& arch, int root) {
  validate(cfg, "broadcast");
  const int P = cfg.line_length();
  if (root < 0 || root >= P)
    throw ConfigError("broadcast: root " + std::to_string(root) + " is outside the line of " + std::to_string(P) + " PEs");
  ColorPool pool(cfg.colors, arch, "broadcast");
  LinePlan plan(P);
  if (P > 1) plan.multicast(root, 0, P - 1, pool.take("the multicast"), false);
  return build_stream_layout(cfg, plan, "broadcast", "broadcast");
}

}  // namespace wafersim::kernels
