// Host-side tiling of the GEMM/GEMV kernels: a dimension of n elements split into P equal blocks (the last ones
// padded with zeros when P does not divide n), a row-major matrix cut into a grid of such blocks and put back,
// the CPU matmul every distributed kernel is checked against, and the 4-byte alignment of the kernels' SRAM plans.
#pragma once
#include <cstdint>
#include <vector>

namespace wafersim::kernels {

// n elements in `parts` blocks of `block` = ceil(n / parts) elements; block i holds [first(i), first(i) + valid(i)).
struct Split {
  Split(std::uint32_t n, int parts);
  std::uint32_t n;
  int parts;
  std::uint32_t block;
  std::uint32_t padded() const { return block * std::uint32_t(parts); }
  std::uint32_t first(int i) const { return block * std::uint32_t(i); }
  std::uint32_t valid(int i) const;  // elements of block i inside n (the rest is padding)
};

// a rounded up to a multiple of 4 (the kernels' symbols are 4-byte aligned).
constexpr std::uint64_t align4(std::uint64_t a) { return (a + 3) / 4 * 4; }

// Block (bi, bj) of the rows x cols row-major matrix m: rows.block x cols.block elements, row-major, zero-padded.
std::vector<float> block_of(const std::vector<float>& m, const Split& rows, const Split& cols, int bi, int bj);
// Writes block (bi, bj) back into m (the padding is dropped).
void put_block(std::vector<float>& m, const Split& rows, const Split& cols, int bi, int bj,
               const std::vector<float>& block);

// C[M x N] = A[M x K] * B[K x N] (row-major), accumulated in double: the exact answer the kernels approximate.
std::vector<double> matmul(const std::vector<float>& a, const std::vector<float>& b, std::uint32_t m, std::uint32_t k,
                           std::uint32_t n);

}  // namespace wafersim::kernels
