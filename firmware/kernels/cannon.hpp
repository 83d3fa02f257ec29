// Cannon's algorithm, the first MeshGEMM baseline: the shift GEMM of meshgemm.hpp on the linear ring 0..P-1 of every
// row and column, whose wrap-around edge (P-1 -> 0) spans P-1 hops (the PE at ring position 0 sends its block to
// position P-1). Same host alignment, double buffering, accumulation choice and cost model as MeshGEMM; only the ring
// order differs, so the two compare the rings alone.
#pragma once
#include "firmware/kernels/meshgemm.hpp"

namespace wafersim::kernels {

GemmLayout cannon_gemm(const GemmConfig& cfg, const hw::ArchParams& arch);

}  // namespace wafersim::kernels
