// Pipeline allreduce (the Cerebras GEMV demo's default, WaferLLM's baseline): a chain reduce from the first PE of each
// line to the last, then a single-stage multicast of the result back over the whole line: 2(P-1) hops and P-1
// routing stages (CE stages) on the critical path. Streamed: one element per cycle through every stage.
// Cycle count (docs/collectives.md): ts + 2 + (P-1)*(2*ramp + router + hop) + (P-1)*hop + 2*ramp + router + len - 1.
// Not modelled: the demo's host-side memcpy; the root at another position (see chain_reduce / ktree).
#pragma once
#include "firmware/kernels/collective_module.hpp"

namespace wafersim::kernels {

// Colours per PE: 3 (two alternating link colours, one broadcast colour). Launch: function "allreduce".
PlanPtr pipeline_plan(const CollectiveConfig& cfg, const hw::ArchParams& arch);
CollectiveLayout pipeline_allreduce(const CollectiveConfig& cfg, const hw::ArchParams& arch);
constexpr int pipeline_allreduce_colors_per_pe_max() { return 3; }

}  // namespace wafersim::kernels
