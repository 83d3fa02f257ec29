#include "firmware/kernels/cannon.hpp"

#include <numeric>

namespace wafersim::kernels {

GemmLayout cannon_gemm(const GemmConfig& cfg, const hw::ArchParams& arch) {
  std::vector<int> order(std::size_t(cfg.P > 0 ? cfg.P : 0));
  std::iota(order.begin(), order.end(), 0);
  return shift_gemm(cfg, arch, order, "cannon");
}

}  // namespace wafersim::kernels
