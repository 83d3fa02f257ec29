// Ring allreduce (the GPU default, WaferLLM's second baseline) on the INTERLEAVE ring of each line (even positions
// ascending, then odd descending: every ring edge is at most 2 hops, no wrap-around link). The vector is cut into P
// chunks; P-1 reduce-scatter steps then P-1 allgather steps, each step sending one chunk to the next PE and receiving
// one from the previous (store and forward: a CE stage per step). Steps are joined by a blocked task that the send
// activates and the receive unblocks. Critical path ~ 2(P-1) * (task + stage latency + len/P).
// Not modelled: bidirectional rings, chunk pipelining inside a step.
#pragma once
#include <vector>

#include "firmware/kernels/collective.hpp"

namespace wafersim::kernels {

// The INTERLEAVE ring order of P positions (WaferLLM Algorithm 1), e.g. P=6: 0,2,4,5,3,1.
std::vector<int> interleave_ring(int P);

// Colours per PE: at most 4 (edges coloured greedily so that no PE sees a colour twice). Launch: "allreduce".
CollectiveLayout ring_allreduce(const CollectiveConfig& cfg, const hw::ArchParams& arch);
constexpr int ring_allreduce_colors_per_pe_max() { return 4; }

}  // namespace wafersim::kernels
