// Closed-form critical-path cost model of the streamed collectives (chain reduce, broadcast, pipeline and K-tree
// allreduce): walks a LinePlan's routes with the fabric's latency parameters and predicts the cycles a run takes.
// A CE-to-CE stream over d hops takes 2*ramp + router + d*(router + link) cycles from the sender's push to the
// receiver's microthread (d = 0: a local loopback); a launched task starts its ops after task_switch + dsd_setup; a
// stream of n elements adds n - 1 cycles behind its first element. Exact for n = 1 (sc_tests/kernels/
// allreduce_timing_test.cpp holds it to that); for longer streams a lower bound, since it ignores links shared
// inside the stream. Several phases in one program (allreduce_xy): the sum of the phases, less the task switch the
// next phase's launch shares with the previous phase's tail; an estimate (it assumes every line of a phase finishes
// at once, which holds when all lines run the same plan). A staged join (LinePlan::stage_joins) emits once its first
// input's n elements are in and its second input arrives: an estimate. Not modelled: the ring allreduce, SRAM bank
// conflicts, contention between collectives.
#pragma once
#include <cstdint>
#include <utility>

#include "firmware/kernels/collective.hpp"
#include "hw/arch_params.hpp"

namespace wafersim::kernels {

// Predicted cycles of one run of collective `c` on `n`-element vectors, as [best, worst] over the RAMP's
// round-robin choice when two first elements reach one compute engine in the same cycle (equal when none do).
// Counts like the fabric: up to the last busy cycle inclusive (task_switch after the last element arrives).
std::pair<hw::Cycle, hw::Cycle> predicted_cycles(const CollectiveLayout& c, const hw::ArchParams& arch,
                                                 std::uint32_t n);
// Whether the model covers `c` (every phase a stream collective: not the ring), and whether it claims to be exact
// for n = 1 (a single phase without staged joins).
bool has_cost_model(const CollectiveLayout& c);
bool cost_model_exact(const CollectiveLayout& c);

}  // namespace wafersim::kernels
