#include "firmware/kernels/tiling.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace wafersim::kernels {

Split::Split(std::uint32_t n_, int parts_) : n(n_), parts(parts_) {
  if (parts < 1) throw std::invalid_argument("split into " + std::to_string(parts) + " blocks: need at least 1");
  block = std::max<std::uint32_t>(1, (n + std::uint32_t(parts) - 1) / std::uint32_t(parts));
}

std::uint32_t Split::valid(int i) const {
  const std::uint32_t f = first(i);
  return f >= n ? 0 : std::min(block, n - f);
}

std::vector<float> block_of(const std::vector<float>& m, const Split& rows, const Split& cols, int bi, int bj) {
  std::vector<float> b(std::size_t(rows.block) * cols.block, 0.0f);
  for (std::uint32_t r = 0; r < rows.valid(bi); ++r)
    for (std::uint32_t c = 0; c < cols.valid(bj); ++c)
      b[std::size_t(r) * cols.block + c] = m[std::size_t(rows.first(bi) + r) * cols.n + cols.first(bj) + c];
  return b;
}

void put_block(std::vector<float>& m, const Split& rows, const Split& cols, int bi, int bj,
               const std::vector<float>& block) {
  for (std::uint32_t r = 0; r < rows.valid(bi); ++r)
    for (std::uint32_t c = 0; c < cols.valid(bj); ++c)
      m[std::size_t(rows.first(bi) + r) * cols.n + cols.first(bj) + c] = block[std::size_t(r) * cols.block + c];
}

std::vector<double> matmul(const std::vector<float>& a, const std::vector<float>& b, std::uint32_t m, std::uint32_t k,
                           std::uint32_t n) {
  std::vector<double> c(std::size_t(m) * n, 0.0);
  for (std::uint32_t i = 0; i < m; ++i)
    for (std::uint32_t p = 0; p < k; ++p) {
      const double av = a[std::size_t(i) * k + p];
      for (std::uint32_t j = 0; j < n; ++j) c[std::size_t(i) * n + j] += av * b[std::size_t(p) * n + j];
    }
  return c;
}

}  // namespace wafersim::kernels
