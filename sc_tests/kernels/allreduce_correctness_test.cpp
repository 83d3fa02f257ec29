// Every allreduce (pipeline, ring, K-tree) against a CPU sum / max on random data: mesh sides 1, 2, 3, 7, 16 and
// non-square rectangles, along X and Y, fp16 (with fp16 or fp32 accumulation) and fp32.
#include "common/error.hpp"
#include "sc_tests/kernels/kernel_harness.hpp"

using namespace wafersim;
using namespace wafersim::kernels;
using namespace wafersim::kernels::test;

namespace {

struct Algo {
  const char* name;
  Builder build;
};
const Algo kAlgos[] = {
    {"pipeline", [](const CollectiveConfig& c, const hw::ArchParams& a) { return pipeline_allreduce(c, a); }},
    {"ring", [](const CollectiveConfig& c, const hw::ArchParams& a) { return ring_allreduce(c, a); }},
    {"ktree", [](const CollectiveConfig& c, const hw::ArchParams& a) { return ktree_allreduce(c, a); }},
    {"ktree staged",
     [](const CollectiveConfig& c, const hw::ArchParams& a) { return ktree_allreduce(c, a, {.staged_joins = true}); }},
};

void check_all_shapes(const Algo& algo, DType dtype, ReduceOp op, bool acc32) {
  struct Shape {
    int w, h;
    Axis axis;
  };
  const Shape shapes[] = {{1, 1, Axis::X}, {1, 7, Axis::X}, {2, 1, Axis::X}, {3, 2, Axis::X}, {7, 3, Axis::X}, {16, 1, Axis::X},
                          {1, 2, Axis::Y}, {2, 3, Axis::Y}, {3, 7, Axis::Y}, {2, 16, Axis::Y}, {5, 4, Axis::Y},
                          {16, 16, Axis::X}};
  unsigned seed = 1;
  for (const Shape& s : shapes) {
    for (std::uint32_t len : {1u, 13u}) {
      CollectiveConfig cfg{.width = s.w, .height = s.h, .axis = s.axis, .length = len, .dtype = dtype, .op = op,
                           .fp32_accumulate = acc32};
      if (s.w * s.h > 64 && len > 1) continue;  // keep the 16x16 case short
      const std::string what = std::string(algo.name) + " " + std::to_string(s.w) + "x" + std::to_string(s.h) +
                               " axis " + to_string(s.axis) + " len " + std::to_string(len);
      const Outcome o = run_collective(algo.build, cfg, ++seed);
      EXPECT_TRUE(o.finished) << what;
      expect_reduced(cfg, o, [](int) { return true; }, what);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

}  // namespace

#define ALLREDUCE_TESTS(IDX, NAME)                                                                              \
  TEST(NAME, Fp32SumMatchesCpuOnEveryShape) { check_all_shapes(kAlgos[IDX], DType::F32, ReduceOp::Sum, false); } \
  TEST(NAME, Fp32MaxMatchesCpuOnEveryShape) { check_all_shapes(kAlgos[IDX], DType::F32, ReduceOp::Max, false); } \
  TEST(NAME, Fp16SumMatchesCpuOnEveryShape) { check_all_shapes(kAlgos[IDX], DType::F16, ReduceOp::Sum, false); } \
  TEST(NAME, Fp16SumWithFp32AccumulationMatchesCpu) {                                                          \
    check_all_shapes(kAlgos[IDX], DType::F16, ReduceOp::Sum, true);                                            \
  }                                                                                                              \
  TEST(NAME, Fp16MaxMatchesCpuOnEveryShape) { check_all_shapes(kAlgos[IDX], DType::F16, ReduceOp::Max, false); }

ALLREDUCE_TESTS(0, PipelineAllreduce)
ALLREDUCE_TESTS(1, RingAllreduce)
ALLREDUCE_TESTS(2, KTreeAllreduce)

// Staged joins keep a partial in x: partials in the data type only (no fp32 accumulation of fp16 data).
TEST(KTreeStagedAllreduce, Fp32SumMatchesCpuOnEveryShape) { check_all_shapes(kAlgos[3], DType::F32, ReduceOp::Sum, false); }
TEST(KTreeStagedAllreduce, Fp32MaxMatchesCpuOnEveryShape) { check_all_shapes(kAlgos[3], DType::F32, ReduceOp::Max, false); }
TEST(KTreeStagedAllreduce, Fp16SumMatchesCpuOnEveryShape) { check_all_shapes(kAlgos[3], DType::F16, ReduceOp::Sum, false); }
TEST(KTreeStagedAllreduce, Fp16MaxMatchesCpuOnEveryShape) { check_all_shapes(kAlgos[3], DType::F16, ReduceOp::Max, false); }

TEST(KTreeStagedAllreduce, TakesAtMostThreeInputQueuesAndNoLoopbackAndRejectsFp32PartialsOfFp16) {
  const hw::ArchParams a;
  for (int P : {7, 16, 64, 420}) {
    const CollectiveConfig cfg{.width = 1, .height = P, .axis = Axis::Y, .length = 4};
    const PlanPtr plan = ktree_plan(cfg, a, {.staged_joins = true});
    std::size_t most = 0, staged = 0;
    for (int p = 0; p < P; ++p) {
      const StreamNode& n = plan->line.node(p);
      EXPECT_TRUE(n.loopbacks.empty()) << "P " << P << " position " << p;
      most = std::max(most, n.inputs.size() + (n.receive != kNoColor ? 1 : 0));
      staged += n.staged ? 1 : 0;
    }
    EXPECT_EQ(most, 3u) << "P " << P;
    EXPECT_GT(staged, 0u) << "P " << P;
    EXPECT_LE(plan->line.colors_per_pe_max(), 5) << "P " << P;
  }
  const CollectiveConfig f16{.width = 8, .height = 1, .length = 4, .dtype = DType::F16, .fp32_accumulate = true};
  EXPECT_THROW(ktree_plan(f16, a, {.staged_joins = true}), ConfigError);
  EXPECT_THROW(ktree_plan({.width = 8, .height = 1}, a, {.k = 3, .staged_joins = true}), ConfigError);
}

TEST(KTree3Allreduce, MatchesCpuOnEveryShapeAndType) {
  const Algo k3{"ktree3", [](const CollectiveConfig& c, const hw::ArchParams& a) {
                  const int P = c.line_length();
                  // Groups of at least two PEs (single-PE groups would need more input queues at K = 3).
                  return ktree_allreduce(c, a, {.k = 3, .groups = std::max(1, P / 2), .groups2 = 2});
                }};
  check_all_shapes(k3, DType::F32, ReduceOp::Sum, false);
  check_all_shapes(k3, DType::F16, ReduceOp::Sum, true);
  check_all_shapes(k3, DType::F16, ReduceOp::Max, false);
}

TEST(KTree3Allreduce, DefaultGroupsWorkOnLongLines) {
  for (int P : {27, 64, 100}) {
    CollectiveConfig cfg{.width = P, .height = 1, .length = 3};
    const auto o = run_collective([](const CollectiveConfig& c, const hw::ArchParams& a) { return ktree_allreduce(c, a, {.k = 3}); }, cfg, 4);
    EXPECT_TRUE(o.finished) << P;
    expect_reduced(cfg, o, [](int) { return true; }, "ktree k=3 P=" + std::to_string(P));
  }
}

// Control wavelets, switch moves and compute engines on a mesh whose router phase is split into bands of rows
// on several host threads: same cycles and bit-identical results as one thread.
TEST(AllreduceHostThreads, KTreeOnBandsMatchesOneThread) {
  CollectiveConfig cfg{.width = 7, .height = 9, .axis = Axis::Y, .length = 24, .dtype = DType::F32, .op = ReduceOp::Sum};
  hw::ArchParams one;
  one.simulation.host_threads = 1;
  const Outcome ref = run_collective(kAlgos[2].build, cfg, 3, one);
  expect_reduced(cfg, ref, [](int) { return true; }, "ktree one thread");
  for (int threads : {2, 3}) {
    hw::ArchParams many = one;
    many.simulation.host_threads = threads;
    many.simulation.parallel_min_routers = 1;
    const Outcome o = run_collective(kAlgos[2].build, cfg, 3, many);
    EXPECT_EQ(o.cycles, ref.cycles) << threads;
    EXPECT_EQ(o.out, ref.out) << threads;
  }
}
