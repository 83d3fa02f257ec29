// dist-GEMM-T (WaferLLM): C[M x N] = A[M x K] * B[N x K]^T without transposing B. PE (x, y) at ring positions
// (kx, ky) of the INTERLEAVE ring keeps A block (ky, kx), stored transposed by the host (kb x mb: A is the activation,
// laid out as the kernel reads it), and starts with B block (ky, kx) (nb x kb, B's own row-major layout: no skew, no
// transpose). Step s (0..P-1): the PE holds B block (jb, kx), jb = (ky + s) mod P, computes the partial product
// transposed, (A(ky, kx) * B(jb, kx)^T)^T (nb x mb: `nb * kb` unit-stride fmac row ops over rows of A^T, B's elements
// as the scalars), and the row reduces its P partials to the rotating root kx = jb, which accumulates C(ky, jb): a
// streamed chain along the X ring from position jb-1 backwards round to jb (each PE adds its partial to the stream
// and forwards it in one operation, every edge at most 2 hops). Meanwhile B shifts along Y on the ring (double buffered).
// Every PE is the root of exactly one step and ends with C(ky, kx).
// Overlap: two partial buffers; step s+1 computes while the partial of step s is reduced (a PE starts step s+1 once
// its B block has arrived and the reduction of step s-1 has ended). The reductions run one after the other (they
// share the row's colours and input queue; the leaf of step s+1 is the root of step s).
// Timing only (GemmConfig::rows): a P-wide region of fewer rows, each step's reduction still along the whole X ring
// (what makes a step's cycles grow with P) and B on a ring of the region's rows: the products are not C.
// Not modelled: simd_32 packing; non-square meshes (beyond the timing-only rows).
#pragma once
#include "firmware/kernels/meshgemm.hpp"

namespace wafersim::kernels {

// SRAM bytes per PE: two B blocks, the A block (fp16; rows of fmac_pitch(mb) and kBankSpare), two partial buffers
// and C (fp16 or fp32, rows of fmac_pitch(mb)), 4-byte aligned.
std::uint64_t dist_gemm_t_sram_bytes(const GemmConfig& cfg);
// `cfg.n` is the rows of B (and columns of C), `cfg.k` the columns of A and B.
GemmLayout dist_gemm_t(const GemmConfig& cfg, const hw::ArchParams& arch);
// Host side: A (m x k) and B (n x k), row-major, rounded to fp16; C (held transposed per PE) comes back with
// read_gemm_output.
void write_gemm_t_inputs(csl::Layout& layout, const GemmLayout& g, const std::vector<float>& a,
                         const std::vector<float>& b);
// Cost model (an estimate; sc_tests/kernels/gemm_kernels_test.cpp holds it within 10%): a recurrence over the
// steps: a step's body (task switch, zeroing its partial buffer, the FMAC loop) starts after the previous step,
// its B shift (setup + one ring edge + nb*kb elements) and the shift's completion tasks, and once the reduction of
// the step before the previous one has ended; reductions (the leaf's setup, P-1 ring edges, mb*nb elements) run one
// after the other, each from its step's end; the run ends with the last reduction's completion task.
hw::Cycle dist_gemm_t_model_cycles(const GemmLayout& g, const hw::ArchParams& arch, const hw::ComputeEngine& ce);

}  // namespace wafersim::kernels
