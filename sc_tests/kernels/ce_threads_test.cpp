// Compute engines step on the host threads (hw::PeAgent::isolated): a K-tree and a ring allreduce on a 37x23
// mesh give the same cycles, fabric statistics, per-PE compute-engine statistics and results with 1, 2 and 3 host
// threads, with cycle blocks on and off; the K-tree also with pe.datapath_contention on 1 and 2 host threads.
#include <cstring>

#include "sc_tests/kernels/kernel_harness.hpp"

using namespace wafersim;
using namespace wafersim::kernels;
using namespace wafersim::kernels::test;

namespace {

struct Run {
  fabric::Stats fabric;
  std::vector<hw::ComputeEngine::Stats> ces;
  std::vector<std::vector<float>> out;
};

Run run(const Builder& build, int threads, bool blocks, bool contention = false) {
  hw::ArchParams arch;
  arch.pe.datapath_contention = contention;
  arch.simulation.host_threads = threads;
  arch.simulation.parallel_min_routers = 16;  // the small mesh still runs on every host thread
  arch.simulation.block_min_pes = blocks ? 1 : arch.simulation.block_min_pes;
  const CollectiveConfig cfg{.width = 37, .height = 23, .axis = Axis::X, .length = 24, .dtype = DType::F32};
  fabric::Fabric f(arch, cfg.width, cfg.height, fabric::DataMode::Functional);
  CollectiveLayout c = build(cfg, arch);
  c.layout->load(f);
  for (int y = 0; y < cfg.height; ++y)
    for (int x = 0; x < cfg.width; ++x)
      write_x(*c.layout, cfg, x, y, random_vector(cfg.length, 11u + unsigned(y * cfg.width + x), cfg.dtype));
  c.layout->call(c.function);
  EXPECT_TRUE(f.run().completed);
  EXPECT_TRUE(all_finished(*c.layout));
  Run r;
  r.fabric = f.stats();
  for (int y = 0; y < cfg.height; ++y)
    for (int x = 0; x < cfg.width; ++x) {
      EXPECT_TRUE(c.layout->engine(x, y).isolated());
      r.ces.push_back(c.layout->engine(x, y).stats());
      r.out.push_back(read_x(*c.layout, cfg, x, y));
    }
  return r;
}

void expect_same(const Run& a, const Run& b, const std::string& what) {
  EXPECT_EQ(a.fabric.cycles, b.fabric.cycles) << what;
  EXPECT_EQ(a.fabric.wavelet_hops, b.fabric.wavelet_hops) << what;
  EXPECT_EQ(a.fabric.ramp_injections, b.fabric.ramp_injections) << what;
  EXPECT_EQ(a.fabric.ramp_deliveries, b.fabric.ramp_deliveries) << what;
  EXPECT_EQ(a.fabric.stall_cycles, b.fabric.stall_cycles) << what;
  EXPECT_EQ(a.fabric.agent_steps, b.fabric.agent_steps) << what;
  EXPECT_EQ(a.fabric.color_hops, b.fabric.color_hops) << what;
  EXPECT_EQ(a.fabric.color_stalls, b.fabric.color_stalls) << what;
  ASSERT_EQ(a.ces.size(), b.ces.size());
  for (std::size_t i = 0; i < a.ces.size(); ++i) {
    EXPECT_EQ(0, std::memcmp(&a.ces[i], &b.ces[i], sizeof(a.ces[i]))) << what << " CE statistics of PE " << i;
    EXPECT_EQ(a.out[i], b.out[i]) << what << " results of PE " << i;
  }
}

void check(const Builder& build, const char* name) {
  const Run one = run(build, 1, false);
  EXPECT_GT(one.fabric.cycles, 0u);
  for (bool blocks : {false, true})
    for (int threads : {1, 2, 3}) {
      const Run r = run(build, threads, blocks);
      const std::string what =
          std::string(name) + " with " + std::to_string(threads) + " threads" + (blocks ? ", blocks" : "");
      expect_same(one, r, what);
      EXPECT_EQ(blocks, r.fabric.block_cycles > 0) << what;  // the compute engines ran inside cycle blocks
    }
}

// Contention changes only timing: the same results as without it, and the same everything on 1 and 2 threads.
void check_contention() {
  const Builder ktree = [](const CollectiveConfig& c, const hw::ArchParams& a) { return ktree_allreduce(c, a); };
  const Run one = run(ktree, 1, false, true), off = run(ktree, 1, false, false);
  EXPECT_GT(one.fabric.cycles, 0u);
  EXPECT_EQ(one.out, off.out);
  for (bool blocks : {false, true})
    expect_same(one, run(ktree, 2, blocks, true), blocks ? "contention, 2 threads, blocks" : "contention, 2 threads");
}

}  // namespace

TEST(ComputeEngineThreads, KTreeAllreduceIsTheSameOnOneTwoAndThreeHostThreads) {
  check([](const CollectiveConfig& c, const hw::ArchParams& a) { return ktree_allreduce(c, a); }, "ktree");
}

TEST(ComputeEngineThreads, RingAllreduceIsTheSameOnOneTwoAndThreeHostThreads) {
  check([](const CollectiveConfig& c, const hw::ArchParams& a) { return ring_allreduce(c, a); }, "ring");
}

TEST(ComputeEngineThreads, KTreeAllreduceWithDatapathContentionIsTheSameOnOneAndTwoHostThreads) { check_contention(); }
