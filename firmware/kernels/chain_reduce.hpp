// Chain reduce along X or Y: the PEs on each side of the root stream their partial vectors towards it, each PE adding
// its own vector in a streamed DSD op (fabin + x -> fabout) on link colours alternating by position parity; the root
// joins both sides (one loopback colour) and keeps the result in x. Other PEs keep their input.
// Cycle count: (max side length) CE stages of 2*ramp + router + hop, plus the root's joins, plus length.
// Not modelled: reduce to a root outside the line.
#pragma once
#include "firmware/kernels/collective_module.hpp"

namespace wafersim::kernels {

// Colours per PE: at most 4 (2 link colours, 1 result loopback, 1 join loopback at a two-sided root).
// `root`: position along the axis (-1: the last PE). Launch: function "reduce".
PlanPtr chain_reduce_plan(const CollectiveConfig& cfg, const hw::ArchParams& arch, int root = -1);
CollectiveLayout chain_reduce(const CollectiveConfig& cfg, const hw::ArchParams& arch, int root = -1);
constexpr int chain_reduce_colors_per_pe_max() { return 4; }

}  // namespace wafersim::kernels
