// MeshGEMV and its baselines (pipeline, ring) against the CPU matmul on random fp16 inputs, for both accumulation
// types, meshes 1..8 and shapes P does not divide; the cost model against the simulation; the SRAM refusal.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "common/error.hpp"
#include "fabric/fabric.hpp"
#include "firmware/kernels/meshgemv.hpp"
#include "firmware/kernels/reduction_oracle.hpp"

namespace wafersim::kernels {
namespace {

struct GemvRun {
  hw::Cycle cycles = 0;
  bool finished = false;
  std::vector<float> x, w, y;
  std::pair<hw::Cycle, hw::Cycle> model;
  std::string model_kind;
};

GemvRun run_gemv(const GemvConfig& cfg, unsigned seed = 1, const hw::ArchParams& arch = hw::ArchParams{}) {
  fabric::Fabric f(arch, cfg.P, gemv_height(cfg), fabric::DataMode::Functional);
  GemvLayout g = meshgemv(cfg, arch);
  g.layout->load(f);
  std::mt19937 rng(seed);
  GemvRun r;
  r.x = random_inputs(cfg.k, rng, DType::F16);
  r.w = random_inputs(std::size_t(cfg.k) * cfg.n, rng, DType::F16);
  write_gemv_inputs(g, r.x, r.w);
  g.layout->call("gemv");
  const auto rep = f.run();
  EXPECT_TRUE(rep.completed);
  r.cycles = rep.cycles;
  r.finished = gemv_finished(g);
  r.y = read_gemv_output(g);
  r.model = gemv_model_cycles(g, arch);
  r.model_kind = gemv_model_kind(g);
  return r;
}

void expect_product(const GemvRun& r, const GemvConfig& cfg, const std::string& what) {
  ASSERT_TRUE(r.finished) << what;
  const std::vector<double> exact = matmul(r.x, r.w, 1, cfg.k, cfg.n);
  const std::vector<double> tol = gemv_error_bounds(cfg, r.x, r.w);  // from the accumulation type's roundoff
  for (std::uint32_t j = 0; j < cfg.n; ++j)
    ASSERT_LE(std::abs(r.y[j] - exact[j]), tol[j])
        << what << " y[" << j << "] = " << r.y[j] << ", exact " << exact[j];
}

struct Case {
  GemvAlgo algo;
  bool fp32;
};

class GemvCorrectness : public ::testing::TestWithParam<Case> {};

TEST_P(GemvCorrectness, MatchesCpuMatmulOnOddShapes) {
  // K = 37 and N = 23 are divisible by none of 2, 3, 4, 5, 8: every mesh pads both.
  for (int P : {1, 2, 3, 4, 5, 8}) {
    GemvConfig cfg{.P = P, .k = 37, .n = 23, .algo = GetParam().algo, .fp32_accumulate = GetParam().fp32};
    const std::string what = std::string(to_string(cfg.algo)) + (cfg.fp32_accumulate ? " fp32" : " fp16") + " P=" +
                             std::to_string(P);
    expect_product(run_gemv(cfg, unsigned(P)), cfg, what);
  }
}

INSTANTIATE_TEST_SUITE_P(AllAlgos, GemvCorrectness,
                         ::testing::Values(Case{GemvAlgo::Mesh, false}, Case{GemvAlgo::Mesh, true},
                                           Case{GemvAlgo::Pipeline, false}, Case{GemvAlgo::Pipeline, true},
                                           Case{GemvAlgo::Ring, false}, Case{GemvAlgo::Ring, true}),
                         [](const auto& info) {
                           return std::string(to_string(info.param.algo)) + (info.param.fp32 ? "_fp32" : "_fp16");
                         });

// Non-square regions (K cut along the width, N along the height), shapes that divide neither side: the product, and
// the cost model as on square meshes (mesh, pipeline: a lower bound, or exact for one-element N blocks; ring:
// within a few cycles).
TEST(GemvKernel, NonSquareMeshesMatchTheCpuMatmulAndTheModel) {
  for (const auto& [w, h] : {std::pair{1, 4}, std::pair{4, 1}, std::pair{2, 5}, std::pair{5, 3}, std::pair{8, 3},
                             std::pair{3, 7}})
    for (GemvAlgo algo : {GemvAlgo::Mesh, GemvAlgo::Pipeline, GemvAlgo::Ring})
      for (bool fp32 : {false, true}) {
        const GemvConfig cfg{.P = w, .height = h, .k = 37, .n = 23, .algo = algo, .fp32_accumulate = fp32};
        const std::string what = std::string(to_string(algo)) + (fp32 ? " fp32 " : " fp16 ") + std::to_string(w) +
                                 "x" + std::to_string(h);
        const GemvRun r = run_gemv(cfg, unsigned(w * 10 + h));
        expect_product(r, cfg, what);
        if (algo == GemvAlgo::Ring) EXPECT_NEAR(double(r.cycles), double(r.model.first), 6.0) << what;
        else if (w > 1) EXPECT_GE(r.cycles, r.model.first) << what;  // a 1-PE line: the collective model is 3 over
        else EXPECT_NEAR(double(r.cycles), double(r.model.first), 3.0) << what;
      }
}

TEST(GemvKernel, ThreeLevelKTreeWithGivenGroups) {
  GemvConfig cfg{.P = 8, .k = 29, .n = 19, .algo = GemvAlgo::Mesh, .fp32_accumulate = true,
                 .ktree = {.k = 3, .groups = 4, .groups2 = 2}};
  expect_product(run_gemv(cfg), cfg, "K=3 G=4");
  cfg.ktree = {.k = 2, .groups = 2};
  expect_product(run_gemv(cfg), cfg, "K=2 G=2");
}

// The model adds the local GEMV (the CE's op costs) to the collective's critical path: exact when every PE's y block
// is one element (N = P), a lower bound for longer blocks (the collective model ignores links shared inside a
// stream).
TEST(GemvKernel, CostModelIsExactForOneElementBlocksAndALowerBoundOtherwise) {
  for (GemvAlgo algo : {GemvAlgo::Mesh, GemvAlgo::Pipeline})
    for (int P : {2, 4, 5, 8})
      for (bool fp32 : {false, true}) {
        const std::string what = std::string(to_string(algo)) + " P=" + std::to_string(P);
        GemvConfig cfg{.P = P, .k = std::uint32_t(7 * P - 3), .n = std::uint32_t(P), .algo = algo,
                       .fp32_accumulate = fp32};
        const GemvRun one = run_gemv(cfg);
        EXPECT_EQ(one.model_kind, "exact");
        EXPECT_GE(one.cycles, one.model.first) << what;
        EXPECT_LE(one.cycles, one.model.second) << what;
        cfg.n = std::uint32_t(9 * P - 1);
        const GemvRun many = run_gemv(cfg);
        EXPECT_EQ(many.model_kind, "lower bound");
        EXPECT_GE(many.cycles, many.model.first) << what << " N=" << cfg.n;
      }
}

// The ring's estimate (2(P - 1) lock-step steps, each priced by its longest edge and largest chunk) stays within a
// few cycles of the simulation: measured -3..+5 for P up to 32 and chunks of 1..20 elements.
TEST(GemvKernel, RingEstimateIsWithinAFewCycles) {
  for (int P : {1, 2, 3, 5, 8, 16})
    for (std::uint32_t n : {std::uint32_t(P), std::uint32_t(4 * P), std::uint32_t(9 * P + 1), std::uint32_t(40 * P)}) {
      const GemvRun r = run_gemv({.P = P, .k = std::uint32_t(3 * P), .n = n, .algo = GemvAlgo::Ring});
      EXPECT_EQ(r.model_kind, "estimate");
      EXPECT_NEAR(double(r.cycles), double(r.model.first), 6.0) << "P=" << P << " N=" << n;
    }
}

TEST(GemvKernel, LocalCyclesFollowTheComputeEnginesOpCosts) {
  hw::ArchParams arch;
  arch.pe.bank_conflicts = false;  // the placement-dependent halving is the CE's (ce_timing_test); here the formula
  const GemvConfig cfg{.P = 2, .k = 9, .n = 17};  // blocks 5 x 9
  auto ceil_div = [](hw::Cycle a, hw::Cycle b) { return (a + b - 1) / b; };
  // Zeroing y: one DSD to load (the immediate is none); then three DSD register loads (y twice, the W row) once, and
  // each FMAC pays its issue and chunks only (x[j] is a scalar).
  auto op = [&](hw::Cycle loads, hw::Cycle width) {
    return loads * arch.pe.dsr_load_cycles + arch.pe.dsd_issue_cycles + ceil_div(9, width) + arch.pe.fp_pipeline_latency;
  };
  auto local = [&](hw::Cycle width) {
    return op(1, arch.pe.simd.fp16_ops) + 3 * arch.pe.dsr_load_cycles + 5 * op(0, width);
  };
  EXPECT_EQ(gemv_local_cycles(cfg, arch), local(arch.pe.simd.fmach));
  arch.pe.bank_conflicts = true;  // the placement keeps y and every W row in different bank pairs: same cycles
  EXPECT_EQ(gemv_local_cycles(cfg, arch), local(arch.pe.simd.fmach));
  for (std::uint32_t kb = 1; kb <= 9; ++kb)  // ... for every block shape (row and x lengths modulo 4 and 8)
    for (std::uint32_t nb = 2; nb <= 13; ++nb) {
      hw::ArchParams off = arch;
      off.pe.bank_conflicts = false;
      const GemvConfig c{.P = 1, .k = kb, .n = nb};
      EXPECT_EQ(gemv_local_cycles(c, arch), gemv_local_cycles(c, off)) << kb << " x " << nb;
    }
  arch.pe.simd.fmach = 1;  // the model follows changed op costs without edits
  arch.pe.dsd_issue_cycles = 7;
  arch.pe.dsr_load_cycles = 2;
  EXPECT_EQ(gemv_local_cycles(cfg, arch), local(1));
}

TEST(GemvKernel, RefusesABlockOverTheSramWithTheLimit) {
  const hw::ArchParams arch;
  try {
    meshgemv({.P = 2, .k = 401, .n = 401}, arch);  // a 201 x 201 fp16 block: 80 KB
    FAIL() << "no CapacityError";
  } catch (const CapacityError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("201x201"), std::string::npos) << m;
    EXPECT_NE(m.find(std::to_string(arch.pe.sram_bytes - arch.pe.code_reserve_bytes) + " bytes of SRAM"),
              std::string::npos)
        << m;
  }
  // The largest block that fits is accepted and reported.
  const GemvLayout g = meshgemv({.P = 1, .k = 100, .n = 200, .fp32_accumulate = true}, arch);
  EXPECT_EQ(g.sram_bytes_per_pe, gemv_sram_bytes_per_pe(g.cfg, arch));
  EXPECT_EQ(g.sram_bytes_per_pe, 2u * 100 * 200 + 2 * 102 + 4 * 200);  // x has 2 spare elements (bank placement)
  EXPECT_LE(g.colors_per_pe_max, 6);
}

}  // namespace
}  // namespace wafersim::kernels
