// Row/column broadcast and chain reduce against the CPU on every shape, plus the colour plans: budgets, caller-given
// colours, reserved colours refused, and errors that name the kernel and the limit.
#include "common/error.hpp"
#include "firmware/kernels/stream_tree.hpp"
#include "sc_tests/kernels/kernel_harness.hpp"

using namespace wafersim;
using namespace wafersim::kernels;
using namespace wafersim::kernels::test;

namespace {
struct Shape {
  int w, h;
  Axis axis;
};
const Shape kShapes[] = {{1, 1, Axis::X}, {2, 1, Axis::X}, {3, 2, Axis::X}, {7, 3, Axis::X}, {16, 2, Axis::X},
                         {2, 3, Axis::Y}, {3, 7, Axis::Y}, {2, 16, Axis::Y}, {4, 5, Axis::Y}};
}  // namespace

TEST(Broadcast, EveryPeOfTheLineGetsTheRootVector) {
  for (const Shape& s : kShapes)
    for (DType t : {DType::F16, DType::F32}) {
      CollectiveConfig cfg{.width = s.w, .height = s.h, .axis = s.axis, .length = 9, .dtype = t};
      const int P = cfg.line_length(), root = P / 2;
      const Outcome o = run_collective([root](const CollectiveConfig& c, const hw::ArchParams& a) { return broadcast(c, a, root); }, cfg, 5);
      EXPECT_TRUE(o.finished);
      EXPECT_LE(o.colors_per_pe_max, broadcast_colors_per_pe_max());
      for (int l = 0; l < cfg.lines(); ++l) {
        int rx, ry;
        line_to_xy(cfg, l, root, rx, ry);
        for (int p = 0; p < P; ++p) {
          int x, y;
          line_to_xy(cfg, l, p, x, y);
          EXPECT_EQ(o.out[y * s.w + x], o.in[ry * s.w + rx]) << s.w << "x" << s.h << " line " << l << " pos " << p;
        }
      }
    }
}

TEST(ChainReduce, RootHoldsTheSumOthersKeepTheirInput) {
  for (const Shape& s : kShapes)
    for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Max})
      for (DType t : {DType::F16, DType::F32}) {
        CollectiveConfig cfg{.width = s.w, .height = s.h, .axis = s.axis, .length = 11, .dtype = t, .op = op};
        const int P = cfg.line_length();
        for (int root : {0, P / 2, P - 1}) {
          const Outcome o = run_collective(
              [root](const CollectiveConfig& c, const hw::ArchParams& a) { return chain_reduce(c, a, root); }, cfg, 9);
          EXPECT_TRUE(o.finished);
          EXPECT_LE(o.colors_per_pe_max, chain_reduce_colors_per_pe_max());
          expect_reduced(cfg, o, [root](int p) { return p == root; }, "chain root " + std::to_string(root));
          for (int l = 0; l < cfg.lines(); ++l)
            for (int p = 0; p < P; ++p) {
              if (p == root) continue;
              int x, y;
              line_to_xy(cfg, l, p, x, y);
              EXPECT_EQ(o.out[y * s.w + x], o.in[y * s.w + x]);
            }
        }
      }
}

TEST(ChainReduce, Fp16WithFp32AccumulationIsRoundedOnce) {
  // 2048 followed by fifteen 1s: in fp16 every 2048 + 1 rounds back to 2048 (ulp 2); in fp32 the sum is 2063, rounded
  // once to fp16: 2064 (tie to even).
  CollectiveConfig cfg{.width = 16, .height = 1, .length = 1, .dtype = DType::F16, .fp32_accumulate = true};
  const hw::ArchParams arch;
  for (bool acc32 : {false, true}) {
    cfg.fp32_accumulate = acc32;
    fabric::Fabric f(arch, 16, 1);
    auto c = chain_reduce(cfg, arch, 15);
    c.layout->load(f);
    for (int x = 0; x < 16; ++x) write_x(*c.layout, cfg, x, 0, {x == 0 ? 2048.0f : 1.0f});
    c.layout->call(c.function);
    f.run();
    const float got = read_x(*c.layout, cfg, 15, 0)[0];
    EXPECT_EQ(got, acc32 ? 2064.0f : 2048.0f);
  }
}

TEST(ColorPlans, AllreducesStayWithinTheirAnnouncedBudget) {
  const hw::ArchParams arch;
  const int budget = arch.router.routable_colors - int(arch.host_io.reserved_colors.size());
  for (int P : {2, 3, 7, 16, 64, 256}) {
    CollectiveConfig cfg{.width = P, .height = 1, .length = 4};
    const auto pl = pipeline_allreduce(cfg, arch), rg = ring_allreduce(cfg, arch), kt = ktree_allreduce(cfg, arch);
    EXPECT_LE(pl.colors_per_pe_max, pipeline_allreduce_colors_per_pe_max()) << P;
    EXPECT_LE(rg.colors_per_pe_max, ring_allreduce_colors_per_pe_max()) << P;
    EXPECT_LE(kt.colors_per_pe_max, ktree_allreduce_colors_per_pe_max()) << P;
    if (P >= 8) {
      const auto k3 = ktree_allreduce(cfg, arch, {.k = 3});
      EXPECT_LE(k3.colors_per_pe_max, ktree_allreduce_colors_per_pe_max(3)) << P;
      EXPECT_LE(k3.colors_per_pe_max, budget);
    }
    for (const auto* c : {&pl, &rg, &kt}) {
      EXPECT_LE(c->colors_per_pe_max, budget);
      for (Color col : c->colors_used)
        for (int r : arch.host_io.reserved_colors) EXPECT_NE(int(col), r);
    }
  }
}

TEST(ColorPlans, KernelsTakeOnlyTheCallerGivenColours) {
  const hw::ArchParams arch;
  CollectiveConfig cfg{.width = 16, .height = 1, .length = 5, .colors = {9, 4, 17, 12, 2, 8}};
  const auto kt = ktree_allreduce(cfg, arch, {.groups = 4});
  for (Color c : kt.colors_used) EXPECT_NE(std::find(cfg.colors.begin(), cfg.colors.end(), c), cfg.colors.end()) << int(c);
  // And it still works with them.
  const Outcome o = run_collective([](const CollectiveConfig& c, const hw::ArchParams& a) { return ktree_allreduce(c, a, {.groups = 4}); }, cfg);
  expect_reduced(cfg, o, [](int) { return true; }, "ktree with given colours");
}

TEST(ColorPlans, TooFewOrReservedColoursAreErrorsNamingTheKernel) {
  const hw::ArchParams arch;
  CollectiveConfig cfg{.width = 8, .height = 1, .length = 5, .colors = {0, 1}};
  try {
    pipeline_allreduce(cfg, arch);
    FAIL();
  } catch (const CapacityError& e) {
    EXPECT_NE(std::string(e.what()).find("pipeline_allreduce: needs a colour for the broadcast"), std::string::npos) << e.what();
  }
  cfg.colors = {0, 1, 22};
  try {
    pipeline_allreduce(cfg, arch);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("colour 22 is reserved by host I/O"), std::string::npos) << e.what();
  }
  cfg.colors = {0, 1, 2, 3};  // K-tree: 2 phase-1, 2 phase-2, 1 broadcast (+ a loopback where none is free)
  EXPECT_THROW(ktree_allreduce(cfg, arch, {.groups = 2}), CapacityError);
  cfg.colors = {};
  EXPECT_THROW(ktree_allreduce(cfg, arch, {.k = 4}), ConfigError);
  cfg.dtype = DType::F32;
  cfg.fp32_accumulate = true;
  EXPECT_THROW(ktree_allreduce(cfg, arch), ConfigError);
}

TEST(KTreeGroups, SizesDifferByAtMostOneAndRootsSitInTheMiddle) {
  const auto g = ktree_groups(10, 3);
  ASSERT_EQ(g.size(), 3u);
  EXPECT_EQ(g[0].first, 0);
  EXPECT_EQ(g[0].last, 3);
  EXPECT_EQ(g[0].root, 2);
  EXPECT_EQ(g[1].first, 4);
  EXPECT_EQ(g[2].last, 9);
  EXPECT_EQ(ktree_default_groups(256), 16);
  EXPECT_EQ(ktree_default_groups(720), 27);  // round(sqrt(720)); the paper picks 24 for 720 (a divisor)
  EXPECT_EQ(interleave_ring(6), (std::vector<int>{0, 2, 4, 5, 3, 1}));
  EXPECT_EQ(interleave_ring(5), (std::vector<int>{0, 2, 4, 3, 1}));
}

TEST(Collectives, TimingOnlyModeGivesTheSameCycles) {
  for (const char* name : {"pipeline", "ktree", "ring"}) {
    CollectiveConfig cfg{.width = 7, .height = 2, .length = 10};
    Builder b = std::string(name) == "pipeline" ? Builder([](const CollectiveConfig& c, const hw::ArchParams& a) { return pipeline_allreduce(c, a); })
              : std::string(name) == "ring"     ? Builder([](const CollectiveConfig& c, const hw::ArchParams& a) { return ring_allreduce(c, a); })
                                                : Builder([](const CollectiveConfig& c, const hw::ArchParams& a) { return ktree_allreduce(c, a); });
    const auto f = run_collective(b, cfg, 1, hw::ArchParams{}, fabric::DataMode::Functional);
    const auto t = run_collective(b, cfg, 1, hw::ArchParams{}, fabric::DataMode::TimingOnly);
    EXPECT_EQ(f.cycles, t.cycles) << name;
  }
}
