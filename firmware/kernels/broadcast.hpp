// Row / column broadcast: a single-stage hardware multicast. The root PE of every line streams its vector once on one
// colour; every router of the line copies it to its CE and onward, so no CE sits on the path (hops only).
// Cycle count: task switch + setup + 2*ramp + router + hops*(router+link) + length. Not modelled: switch-driven
// (time-multiplexed) broadcasts; see firmware/examples for one.
#pragma once
#include "firmware/kernels/collective_module.hpp"

namespace wafersim::kernels {

// Colours per PE: 1 (taken from cfg.colors). Every PE of a line ends with the root's x. `root`: position along the
// axis (default 0). Launch: function "broadcast".
PlanPtr broadcast_plan(const CollectiveConfig& cfg, const hw::ArchParams& arch, int root = 0);
CollectiveLayout broadcast(const CollectiveConfig& cfg, const hw::ArchParams& arch, int root = 0);
constexpr int broadcast_colors_per_pe_max() { return 1; }

}  // namespace wafersim::kernels
