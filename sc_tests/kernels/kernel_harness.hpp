// Shared by the collective tests: run a collective on a bare fabric with random inputs and check it against a CPU
// reduction (exact for max, error-bounded for sums because the reduction order differs).
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "fabric/fabric.hpp"
#include "firmware/kernels/broadcast.hpp"
#include "firmware/kernels/chain_reduce.hpp"
#include "firmware/kernels/ktree_allreduce.hpp"
#include "firmware/kernels/pipeline_allreduce.hpp"
#include "firmware/kernels/reduction_oracle.hpp"
#include "firmware/kernels/ring_allreduce.hpp"

namespace wafersim::kernels::test {

using Builder = std::function<CollectiveLayout(const CollectiveConfig&, const hw::ArchParams&)>;

struct Outcome {
  hw::Cycle cycles = 0;
  bool finished = false;
  int colors_per_pe_max = 0;
  std::vector<std::vector<float>> in, out;  // per PE (y * width + x)
};

inline std::vector<float> random_vector(std::uint32_t n, unsigned seed, DType t) {
  std::mt19937 rng(seed);
  return random_inputs(n, rng, t);
}

inline Outcome run_collective(const Builder& build, const CollectiveConfig& cfg, unsigned seed = 1,
                              const hw::ArchParams& arch = hw::ArchParams{},
                              fabric::DataMode mode = fabric::DataMode::Functional) {
  fabric::Fabric f(arch, cfg.width, cfg.height, mode);
  CollectiveLayout c = build(cfg, arch);
  c.layout->load(f);
  Outcome o;
  o.colors_per_pe_max = c.colors_per_pe_max;
  for (int y = 0; y < cfg.height; ++y)
    for (int x = 0; x < cfg.width; ++x) {
      o.in.push_back(random_vector(cfg.length, seed * 7919u + unsigned(y * cfg.width + x), cfg.dtype));
      write_x(*c.layout, cfg, x, y, o.in.back());
    }
  c.layout->call(c.function);
  const auto r = f.run();
  EXPECT_TRUE(r.completed);
  o.cycles = r.cycles;
  o.finished = all_finished(*c.layout);
  for (int y = 0; y < cfg.height; ++y)
    for (int x = 0; x < cfg.width; ++x) o.out.push_back(read_x(*c.layout, cfg, x, y));
  return o;
}

// Every PE of every line holds the reduction of its line's inputs (`who`: which positions must hold it).
inline void expect_reduced(const CollectiveConfig& cfg, const Outcome& o, const std::function<bool(int pos)>& who,
                           const std::string& what) {
  const int P = cfg.line_length();
  const auto input = [&](int x, int y, std::uint32_t k) { return double(o.in[std::size_t(y) * cfg.width + x][k]); };
  for (int l = 0; l < cfg.lines(); ++l) {
    for (std::uint32_t k = 0; k < cfg.length; ++k) {
      const auto [exact, tol] = reduce_line(cfg, l, k, input);
      float first = 0;
      for (int p = 0; p < P; ++p) {
        if (!who(p)) continue;
        int x, y;
        line_to_xy(cfg, l, p, x, y);
        const float got = o.out[std::size_t(y) * cfg.width + x][k];
        ASSERT_LE(std::abs(got - exact), tol) << what << " line " << l << " pos " << p << " element " << k
                                              << ": got " << got << ", exact " << exact;
        if (p == 0 || !who(0)) first = got;
      }
      // All holders agree bit for bit (one result, multicast).
      for (int p = 0; p < P; ++p) {
        if (!who(p)) continue;
        int x, y;
        line_to_xy(cfg, l, p, x, y);
        int x0, y0;
        int q = 0;
        while (!who(q)) ++q;
        line_to_xy(cfg, l, q, x0, y0);
        ASSERT_EQ(o.out[std::size_t(y) * cfg.width + x][k], o.out[std::size_t(y0) * cfg.width + x0][k])
            << what << " line " << l << " pos " << p << " element " << k;
      }
      (void)first;
    }
  }
}

}  // namespace wafersim::kernels::test
