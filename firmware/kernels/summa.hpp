// SUMMA, the second MeshGEMM baseline: C = A*B on a P x P mesh without pre-skew. PE (x, y) owns A block (y, x) and
// B block (y, x); at step t the PEs of column t multicast their A block along their rows and the PEs of row t their B
// block down their columns, and every PE accumulates C += A(y, t) * B(t, x). A row uses two colours for A: "east"
// (rx west+ramp, tx east+ramp) and "west" (rx east+ramp, tx west+ramp), so the root's stream reaches every PE on
// its side in one pass of the router (pass-through multicast, up to P-1 hops) and, through the ramp, the root itself;
// columns likewise for B ("south", "north"): 4 colours per PE.
// Double buffering: the roots of step t+1 send while step t computes, into the second receive buffer. A root sends
// its west stream, then its east stream, on one output queue; a PE starts sending only after it received the
// previous step's blocks, which arrive after the previous root's both streams left it, so two roots' streams never
// meet in a router's rx mux.
// Not modelled: SUMMA's panel size other than one block per step; simd_32 packing.
#pragma once
#include "firmware/kernels/meshgemm.hpp"

namespace wafersim::kernels {

// SRAM bytes per PE: own A and B blocks, two receive buffers each, the C block (4-byte aligned; B and C rows of
// fmac_pitch(nb), kBankSpare after the B buffers).
std::uint64_t summa_sram_bytes(const GemmConfig& cfg);
GemmLayout summa_gemm(const GemmConfig& cfg, const hw::ArchParams& arch);
// Cost model (an estimate; sc_tests/kernels/gemm_kernels_test.cpp holds it within 10% from P = 1 to P = 16,
// docs/kernels-gemm.md within 1% at 64 to 256 with 1x1 blocks; not where a stream runs on a 2-word input queue,
// which moves ~1.5 cycles per element): the first broadcast (P-1 hops, the root's two streams
// and the echoes it drains), then per step the slower of the PE's own step (task switch, FMAC row ops, two completion
// tasks) and the next root's broadcast, which starts one PE on (a wavefront: the line's length is paid once).
hw::Cycle summa_model_cycles(const GemmLayout& g, const hw::ArchParams& arch, const hw::ComputeEngine& ce);

}  // namespace wafersim::kernels
