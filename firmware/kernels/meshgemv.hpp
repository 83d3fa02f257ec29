// MeshGEMV (WaferLLM section 3) and its two baselines: y[1,N] = x[1,K] * W[K,N] on a region of P columns and H rows
// (square by default; any W x H works: K is cut along X, N along Y). The host cuts K into P blocks and N into H
// blocks (tiling.hpp: zero-padded when they do not divide): PE (x, y) holds W block (K block x, N block y) and
// x block x. Every PE runs a local GEMV on its blocks (one fmach -- fp16 accumulation, as the paper's
// code -- or fmachs -- fp16 products, fp32 accumulation -- per row of its W block, after zeroing its partial y; the
// DSDs sit in DSD registers loaded once, and W and y are placed so that no FMAC's two vector sources share a bank
// pair: W rows 4-element aligned, y 4 bytes off them modulo 8, the SDK's advice), then
// the PEs of each row allreduce their partial y blocks along X (the axis that sums over K), so every PE of row j
// ends with y block j. The allreduce is the collective module of the algorithm:
//   mesh:     K-tree allreduce (ktree_allreduce.hpp; levels 2 or 3, G groups)
//   pipeline: the Cerebras GEMV demo's chain reduction and multicast (pipeline_allreduce.hpp)
//   ring:     ring allreduce on the INTERLEAVE ring (ring_allreduce.hpp)
// The allreduce leaves the result on every PE of a row, so no separate broadcast step is needed; the host reads
// y block j from PE (0, j).
// Cost model (gemv_model_cycles): the local GEMV's cycles (the compute engine's own op_cycles for the zeroing op and
// each row's FMAC) plus the allreduce, launched when the local GEMV ends (every PE has the same padded blocks, so
// all end together). Mesh and pipeline: the collective's critical path (cost_model.hpp), exact when that is (N
// block = 1 element), otherwise a lower bound like it. Ring: 2(P - 1) lock-step steps of task switch + DSD setup +
// stream latency over the longest ring edge + largest chunk - 1; an estimate (held within a few cycles by a test).
// Not modelled: the host's memcpy of x and W (untimed), x arriving from a previous layer, simd_32 packing.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "firmware/kernels/collective_module.hpp"
#include "firmware/kernels/ktree_allreduce.hpp"
#include "firmware/kernels/tiling.hpp"

namespace wafersim::kernels {

enum class GemvAlgo { Mesh, Pipeline, Ring };
const char* to_string(GemvAlgo a);

struct GemvConfig {
  int P = 1;                         // columns of the region (X: K is cut into P blocks)
  int height = 0;                    // rows of the region (Y: N is cut into `height` blocks); 0: P (square)
  std::uint32_t k = 1, n = 1;        // x is 1 x k, W is k x n
  GemvAlgo algo = GemvAlgo::Mesh;
  bool fp32_accumulate = false;      // fmachs and an fp32 allreduce; else fmach and an fp16 allreduce
  KTreeOptions ktree{};              // mesh: levels (k), groups (0: the K-tree's default)
  std::vector<Color> colors{};       // colours the allreduce may use (empty: every routable non-I/O colour)
};

// Rows of the region: cfg.height, or P when it is 0.
inline int gemv_height(const GemvConfig& cfg) { return cfg.height > 0 ? cfg.height : cfg.P; }

// Per-PE SRAM bytes of the kernel's arrays above the code reserve, in allocation order (W with rows padded to a
// multiple of 4 elements, x, y; 4-byte aligned): the number checked against pe.sram_bytes.
std::uint64_t gemv_sram_bytes_per_pe(const GemvConfig& cfg, const hw::ArchParams& arch);

struct GemvLayout {
  GemvConfig cfg;
  Split ks{1, 1}, ns{1, 1};          // K and N in P blocks
  std::unique_ptr<csl::Layout> layout;  // exports W, x, y and the function "gemv"
  PlanPtr plan;                      // the allreduce along X
  int colors_per_pe_max = 0;
  std::uint64_t sram_bytes_per_pe = 0;
};

// Builds the kernel. Throws ConfigError on a bad configuration, CapacityError (naming the PE's SRAM and its limit,
// or the colour budget) before anything is simulated.
GemvLayout meshgemv(const GemvConfig& cfg, const hw::ArchParams& arch);

// Host side (after the layout is loaded): distribute x (k values) and W (k x n, row-major) into the blocks, and read
// y (n values) back from column 0, un-padded.
void write_gemv_inputs(GemvLayout& g, const std::vector<float>& x, const std::vector<float>& w);
std::vector<float> read_gemv_output(const GemvLayout& g);
// Whether every PE's allreduce has completed.
bool gemv_finished(const GemvLayout& g);

// Cycles of the local GEMV on one PE (zeroing y, three DSD register loads, then one FMAC per W row with its operands
// in registers), from the compute engine's op costs at the operands' addresses.
hw::Cycle gemv_local_cycles(const GemvConfig& cfg, const hw::ArchParams& arch);
// The cost model's [best, worst] cycles of one run, and what they are: "exact", "lower bound" or "estimate".
std::pair<hw::Cycle, hw::Cycle> gemv_model_cycles(const GemvLayout& g, const hw::ArchParams& arch);
const char* gemv_model_kind(const GemvLayout& g);
// Error bound of every y[j] against the exact product of the (fp16-rounded) inputs, following the kernel's order of
// operations to first order in u, the unit roundoff of the accumulation type (fp16: 2^-11, fp32: 2^-24): inside PE p
// the running sum S_r = sum_{i<=r} x_i W_ij rounds once per step (|error| <= u |S_r|), and with fp16 accumulation
// each product too (u |x_r W_rj|; fp32 products of fp16 inputs are exact); the allreduce adds the P block sums T_p
// in at most P - 1 additions, each rounding a partial sum of magnitude <= sum_p |T_p|; the final rounding adds
// u |y_j|. bound_j = 1.05 * u * (sum_p sum_r (|S_r| [+ |x_r W_rj|]) + (P - 1) sum_p |T_p| + |y_j|); 1.05 covers the
// second-order terms for the shapes a PE holds.
std::vector<double> gemv_error_bounds(const GemvConfig& cfg, const std::vector<float>& x, const std::vector<float>& w);
// Useful FMACs of the product (k * n: the padding is not useful).
inline std::uint64_t gemv_useful_fmacs(const GemvConfig& cfg) { return std::uint64_t(cfg.k) * cfg.n; }

}  // namespace wafersim::kernels
