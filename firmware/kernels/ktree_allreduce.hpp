// K-tree allreduce with K = 2 (WaferLLM MeshGEMV/decode): each line of P PEs is cut into G groups of about g = P/G
// PEs. Phase 1: inside every group, both sides chain-reduce towards the group root (middle PE) on two alternating
// link colours. Phase 2: the group roots chain-reduce towards the middle root R* over pass-through routes (two more
// colours, alternating by group parity), so roots g PEs apart cost hops, not CE stages. A phase-2 stream enters a
// group at the root's neighbour on its side (the last member of that side's phase-1 chain), which adds it into the
// chain, so no PE joins more than two streams. Finally R* multicasts the result over the line (one colour).
// K = 3 adds a level: the level-1 roots form groups whose roots reduce to the top root over a third pair of colours.
// Critical path ~ g/2 + G/2 CE stages and P hops (docs/collectives.md has the exact count).
// Not modelled: K > 3; K = 3 with single-PE groups (a root would join more streams than it has input queues).
#pragma once
#include "firmware/kernels/collective_module.hpp"

namespace wafersim::kernels {

struct KTreeOptions {
  int k = 2;        // tree levels: 2 or 3
  int groups = 0;   // level-1 groups G; 0: K=2 round(sqrt(P)) as in WaferLLM (P=256 -> 16), K=3 round(P^(2/3))
  int groups2 = 0;  // K=3: groups of level-1 roots; 0: round(P^(1/3))
  // K=2: PEs joining two streams do it in memory (LinePlan::stage_joins), not through a loopback: at most 3 input
  // queues and 2 microthreads a PE instead of 4 and 3, 5 colours instead of 6. Needs partials in the data type.
  bool staged_joins = false;
};

// Colours per PE: K=2 at most 6 (2 phase-1, 2 phase-2, 1 broadcast, 1 join loopback at roots; 5 with staged
// joins); K=3 at most 9 (2 more phase-3 link colours, up to 2 join loopbacks where a phase-3 stream enters).
// Launch: "allreduce".
PlanPtr ktree_plan(const CollectiveConfig& cfg, const hw::ArchParams& arch, KTreeOptions opt = {});
CollectiveLayout ktree_allreduce(const CollectiveConfig& cfg, const hw::ArchParams& arch, KTreeOptions opt = {});
constexpr int ktree_allreduce_colors_per_pe_max(int k = 2) { return k == 2 ? 6 : 9; }
int ktree_default_groups(int P, int k = 2);
int ktree_default_groups2(int P);

// The group boundaries [first, last] and roots of a line of P PEs in G groups (sizes differ by at most one).
struct KTreeGroup {
  int first, last, root;
};
std::vector<KTreeGroup> ktree_groups(int P, int G);

}  // namespace wafersim::kernels
