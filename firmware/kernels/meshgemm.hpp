// MeshGEMM (WaferLLM, paper Algorithm 1): C[M x N] = A[M x K] * B[K x N] on a P x P region. Every PE holds one
// block of A (M/P x K/P), one of B (K/P x N/P), both fp16, and accumulates one block of C. The blocks of A shift
// along X and those of B along Y on the INTERLEAVE ring of each line (even positions ascending, then odd descending),
// so every ring edge spans at most 2 hops and runs on a pass-through colour; P compute-shift steps, each computing on
// the current blocks while the next ones arrive (double buffering: two buffers per operand).
// Alignment, as the paper's code: the host pre-skews B only (the PE at ring positions (kx, ky) gets B block
// (kx+ky, kx)); every PE starts with A block (ky, kx) and the rows align A on the device, row ky moving its blocks ky
// ring positions (or P-ky the other way round, on a second X ring, whichever is shorter: at most P/2 rounds of one
// block transfer), so that PE (kx, ky) holds A(ky, kx+ky) when the steps start.
// Accumulation: fp16 (fmach, as the paper's code) or fp32 (fmachs), selectable.
// Shapes that P does not divide are zero-padded by the host (tiling.hpp) and un-padded on the way back.
// Cannon (cannon.hpp) is the same program on the linear ring 0..P-1 with its (P-1)-hop wrap-around edge.
// Fidelity: one fp16 element per wavelet; the local product is mb*kb fmac row operations of nb elements, issued as
// CSL does with DSD registers (GemmProgram::fmac_rows) on bank-aware rows (fmac_pitch, kBankSpare).
// Not modelled: simd_32 packing of two fp16 per wavelet; non-square meshes.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "firmware/kernels/collective.hpp"
#include "firmware/kernels/tiling.hpp"

namespace wafersim::kernels {

struct GemmConfig {
  int P = 1;                       // the mesh side (P x P PEs)
  std::uint32_t m = 1, k = 1, n = 1;
  bool fp32_accumulate = false;    // fmachs into an fp32 C (else fmach into an fp16 C)
  std::vector<Color> colors{};     // colours the kernel may use (empty: every routable colour not reserved)
  int steps = 0;                   // compute steps run: 0 = all P; 1..P = the first `steps` only, a partial product
                                   // (timing extrapolation, runtime/prefill_timing.hpp)
  int align_rounds = 0;            // MeshGEMM / Cannon alignment rounds run: 0 = all (up to P/2 per row); 1..P/2 = a
                                   // row does at most this many (timing extrapolation; kernels without alignment
                                   // ignore it)
  int rows = 0;                    // dist-GEMM-T, timing only: the region's rows (0 = P): a P-wide region of `rows`
                                   // rows, B shifting on a ring of `rows` along Y, each step's partial reduced along
                                   // the whole X ring (runtime/prefill_timing.hpp; the other kernels ignore it)
};

// Row pitch (elements) of a matrix whose rows are FMAC vector operands: a multiple of 8 bytes, so every row starts
// in row 0's bank pair (the SDK's bank rule compares the 16-bit start words of the two vector sources modulo 4).
std::uint32_t fmac_pitch(std::uint32_t len, std::uint32_t elem_bytes);
// Spare fp16 elements after the FMAC source matrix: the accumulator allocated right after it then starts 4 bytes off
// the source rows' bank pair modulo 8 bytes (the SDK's +4-byte advice), so no FMAC runs at half width.
constexpr std::uint32_t kBankSpare = 2;

// A GEMM kernel's per-PE step program: exports the function "gemm", which resets the step count s_ and done_ and
// calls begin(); the kernel counts its steps in s_ and sets done_ once its part of the product is done.
class GemmProgram : public csl::Program {
 public:
  bool finished() const { return done_; }
  void init() override;

 protected:
  // (Re)starts the kernel's own state and activates its first task.
  virtual void begin() = 0;
  // A new accumulator symbol `name`: `rows` rows of `len` elements, fmac_pitch(len) apart, fp32 if acc32 (fmachs),
  // else fp16 (fmach).
  std::unique_ptr<csl::ArrayBase> make_acc(const char* name, bool acc32, std::uint32_t rows, std::uint32_t len);
  // The local product's FMAC loop, as CSL with DSD registers: for each accumulator row r < rows (from acc_off;
  // pitch fmac_pitch(len)) load r as destination and source and the first source row (src_off; pitch
  // fmac_pitch(len)) into registers (3 loads), then for q < kb: fmac(acc row r, acc row r, src row q,
  // scalars[sc_off + r*kb + q]) and move the source register one row on (@increment_dsd_offset; the loop's scalar
  // code is not charged).
  void fmac_rows(const csl::ArrayBase& acc, const csl::ArrayBase& src, std::uint32_t src_off,
                 const csl::ArrayBase& scalars, std::uint32_t sc_off, std::uint32_t rows, std::uint32_t kb,
                 std::uint32_t len, std::uint32_t acc_off = 0);

  int s_ = 0;
  bool done_ = false;
};

// A shift GEMM ready to load: programs export "a" (2 blocks), "b" (2 blocks), "c" and the function "gemm".
struct GemmLayout {
  std::unique_ptr<csl::Layout> layout;
  std::string name;                  // "meshgemm" or "cannon"
  GemmConfig cfg;
  Split sm, sk, sn;                  // M, K, N in P blocks
  std::vector<int> ring;             // the ring order of a line (logical position -> physical index)
  bool skewed = true;                // the host pre-skews B (shift GEMMs: A is aligned on the device); else PE (x, y)
                                     // gets B(y,x); A(y,x) in both cases (blocks indexed by ring position)
  bool c_transposed = false;         // each PE holds its C block transposed (nb x mb: dist-GEMM-T)
  int hops_max = 0;                  // the longest ring edge
  int colors_per_pe_max = 0;
  std::vector<Color> colors_used;
  std::uint64_t sram_bytes_per_pe = 0;  // symbols (above the code reserve, 4-byte aligned)
};

// The ring `order` (a permutation of 0..P-1) routed along every row (X) and every column (Y) of `layout`, blocks moving
// to the previous ring position; per physical index, the colour it sends on and the one it receives on. `order_y`
// (empty: `order`): the ring along Y of a P-wide region of order_y.size() rows.
struct XyRings {
  std::vector<Color> tx_x, rx_x, tx_y, rx_y;
  std::vector<Color> tx_xr, rx_xr;  // with reverse_x: the X ring the other way (blocks to the next ring position)
  int hops_max = 0;  // the longest ring edge
  int colors_per_pe_max = 0;
  std::vector<Color> colors_used;
};
XyRings route_xy_rings(csl::Layout& layout, int P, const std::vector<int>& order, ColorPool& pool,
                       const std::string& claimant, bool reverse_x = false, const std::vector<int>& order_y = {});
// The logical ring position of physical index v.
int ring_position(const std::vector<int>& order, int v);
// The alignment rounds of the row at ring position ky: ky towards the previous ring position (> 0), or P - ky the
// other way (< 0) when that is shorter.
int shift_gemm_align_rounds(int P, int ky);

// SRAM bytes per PE of the shift GEMMs' symbols (two A blocks, two B blocks with rows of fmac_pitch(nb) and
// kBankSpare, one C block with rows of fmac_pitch(nb); 4-byte aligned).
std::uint64_t shift_gemm_sram_bytes(const GemmConfig& cfg);
// The plan every GEMM kernel starts from: checks shape and SRAM (`sram_bytes(cfg)`) before building (ConfigError
// (shape) or CapacityError naming the kernel, the bytes needed and the limit pe.sram_bytes - pe.code_reserve_bytes),
// then a P x P layout with M, K, N in P blocks, ring 0..P-1, name, cfg and the SRAM per PE set; the kernel sets the
// rest and its programs.
GemmLayout plan_gemm(const GemmConfig& cfg, const hw::ArchParams& arch, const std::string& kernel,
                     std::uint64_t (*sram_bytes)(const GemmConfig&));
// Host side: floats rounded to fp16.
std::vector<csl::f16> to_half(const std::vector<float>& v);
// The shift GEMM on ring `order` (a permutation of 0..P-1) along both axes: MeshGEMM and Cannon.
GemmLayout shift_gemm(const GemmConfig& cfg, const hw::ArchParams& arch, const std::vector<int>& order,
                      const std::string& name);
GemmLayout meshgemm(const GemmConfig& cfg, const hw::ArchParams& arch);

// Host side (untimed memcpy): writes the padded blocks (B pre-skewed if g.skewed) of A (M x K) and B (K x N), row-major floats
// rounded to fp16; reads C back (M x N) without the padding.
void write_gemm_inputs(csl::Layout& layout, const GemmLayout& g, const std::vector<float>& a,
                       const std::vector<float>& b);
std::vector<float> read_gemm_output(const csl::Layout& layout, const GemmLayout& g);

// The main-thread operations of the GEMM kernels, priced by `ce` (ComputeEngine::op_cycles: DSD loads, issue, SIMD
// width, stride caps and the bank rule) with the operands' real addresses in PE (0, 0)'s program of `g` (every PE
// allocates the same symbols): n elements of symbol `name` from element `offset` as a memory DSD; zeroing the whole
// accumulator symbol `dst`; GemmProgram::fmac_rows(dst, src, src_offset, ..., rows, kb, len, dst_offset).
hw::MemDsd gemm_symbol_dsd(const GemmLayout& g, const char* name, std::uint32_t offset, std::uint32_t n);
hw::Cycle gemm_zero_cycles(const GemmLayout& g, const hw::ComputeEngine& ce, const char* dst);
hw::Cycle gemm_row_fmac_cycles(const GemmLayout& g, const hw::ComputeEngine& ce, const char* dst, const char* src,
                               std::uint32_t src_offset, std::uint32_t rows, std::uint32_t kb, std::uint32_t len,
                               std::uint32_t dst_offset = 0);
// Whether every PE finished its steps (after a run).
bool gemm_finished(const GemmLayout& g);

// Cost model of the shift GEMMs (an estimate; sc_tests/kernels/gemm_kernels_test.cpp holds it within 5% from P = 1
// to P = 32, docs/kernels-gemm.md within 2% at 128 and 256): the op costs are asked of the compute engine `ce` that
// runs the kernel (ComputeEngine::op_cycles), latencies come from `arch`. Zeroing C; the slowest rows' P/2 alignment
// rounds (each the A transfer over the ring's mean edge); then P steps at the period of the slower of the PE's own
// step (task switch, FMAC loop, four completion tasks) and the ring's mean edge (sender's task switch, setup, ramps,
// router, mean hops, max(mb*kb, kb*nb) elements, the receiver's completion task): with no barrier between steps, a
// ring's dependency cycle of P edges advances P steps, so the longest edge (Cannon's wrap-around) adds what it
// outlasts the period once (pipeline fill), not every step.
hw::Cycle shift_gemm_model_cycles(const GemmLayout& g, const hw::ArchParams& arch, const hw::ComputeEngine& ce);

// Tolerance of |C - exact| for one output of a K-long dot product: fp16 accumulation rounds each of K additions at
// half an fp16 ulp of the partial sum, fp32 at half an fp32 ulp; `bound` is the largest |partial sum| (sum |a||b|).
double gemm_tolerance(bool fp32_accumulate, std::uint32_t k, double bound);

}  // namespace wafersim::kernels
