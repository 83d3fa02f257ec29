#include "firmware/kernels/reduction_oracle.hpp"

#include <algorithm>
#include <cmath>

namespace wafersim::kernels {

ReducedElement reduce_line(const CollectiveConfig& cfg, int line, std::uint32_t k,
                           const std::function<double(int x, int y, std::uint32_t k)>& input) {
  const int P = cfg.line_length();
  const bool max = cfg.op == ReduceOp::Max;
  double exact = max ? -INFINITY : 0.0, sum_abs = 0;
  for (int p = 0; p < P; ++p) {
    int x, y;
    line_to_xy(cfg, line, p, x, y);
    const double v = input(x, y, k);
    exact = max ? std::max(exact, v) : exact + v;
    sum_abs += std::abs(v);
  }
  const double eps_acc = cfg.acc_type() == DType::F16 ? std::ldexp(1.0, -11) : std::ldexp(1.0, -24);
  const double eps_out = cfg.dtype == DType::F16 ? std::ldexp(1.0, -11) : std::ldexp(1.0, -24);
  return {exact, max ? 0.0 : P * eps_acc * sum_abs + eps_out * std::abs(exact) + 1e-7};
}

ReducedElement reduce_mesh(const CollectiveConfig& cfg, std::uint32_t k,
                           const std::function<double(int x, int y, std::uint32_t k)>& input) {
  CollectiveConfig rows = cfg, col = cfg;
  rows.axis = Axis::X;
  col.axis = Axis::Y;
  col.width = 1;
  std::vector<double> row_result(std::size_t(cfg.height));
  double tolerance = 0;
  for (int y = 0; y < cfg.height; ++y) {
    const ReducedElement r = reduce_line(rows, y, k, input);
    row_result[std::size_t(y)] = r.exact;
    tolerance += r.tolerance;
  }
  const ReducedElement all = reduce_line(col, 0, k, [&](int, int y, std::uint32_t) { return row_result[std::size_t(y)]; });
  return {all.exact, tolerance + all.tolerance};
}

}  // namespace wafersim::kernels
