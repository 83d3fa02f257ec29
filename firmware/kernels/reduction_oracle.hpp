// The CPU oracle for a collective reduction: the exact result of every line (in double precision) and the error a
// correct kernel may show, because the wafer reduces in another order and rounds partial results to the element
// and accumulation types. Every reduction kernel's tests and `bench allreduce --verify` check against it.
#pragma once
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "common/fp16.hpp"
#include "firmware/kernels/collective.hpp"

namespace wafersim::kernels {

struct ReducedElement {
  double exact = 0;      // the reduction of the line's inputs, in double
  double tolerance = 0;  // |got - exact| a correct kernel stays within (0 for max: exact)
};

// Element k of line `line`, reduced over the line's PEs; input(x, y, k) is the value PE (x, y) held. The bound for
// sums: each of the P partial sums rounds in the accumulation type (P * eps_acc * sum |v|), then the result rounds
// once to the element type (eps_out * |exact|); plus an absolute 1e-7 for sums that cancel to ~0.
ReducedElement reduce_line(const CollectiveConfig& cfg, int line, std::uint32_t k,
                           const std::function<double(int x, int y, std::uint32_t k)>& input);

// Element k reduced over the whole rectangle by a reduction along X, then along Y (allreduce_xy): exact in double; the
// bound adds every row's bound to the bound of the column reduction of the row results (each row's result is rounded
// to the element type before the Y phase).
ReducedElement reduce_mesh(const CollectiveConfig& cfg, std::uint32_t k,
                           const std::function<double(int x, int y, std::uint32_t k)>& input);

// n inputs uniform in [-1, 1) from `rng`, rounded to the element type (what a PE's vector can hold).
template <class Rng>
std::vector<float> random_inputs(std::size_t n, Rng& rng, DType t) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = t == DType::F16 ? Half(d(rng)).to_float() : d(rng);
  return v;
}

}  // namespace wafersim::kernels
