// Host memory of a compute engine at paper scale (720x720 PEs): an idle CE with a collective's program bound holds
// at most 1 KB (ComputeEngine::host_bytes: sizeof plus the heap it owns); while it waits on the fabric, each
// running microthread adds at most kPerMicrothread.
#include "sc_tests/kernels/kernel_harness.hpp"

using namespace wafersim;
using namespace wafersim::kernels;
using namespace wafersim::kernels::test;

namespace {

constexpr std::size_t kBound = 1024;
constexpr std::size_t kPerMicrothread = 320;

std::size_t max_host_bytes(const CollectiveLayout& c, const CollectiveConfig& cfg) {
  std::size_t most = 0;
  for (int y = 0; y < cfg.height; ++y)
    for (int x = 0; x < cfg.width; ++x) most = std::max(most, c.layout->engine(x, y).host_bytes());
  return most;
}

void check(const Builder& build, const char* what) {
  const CollectiveConfig cfg{.width = 7, .height = 3, .axis = Axis::X, .length = 32, .dtype = DType::F32};
  const hw::ArchParams arch;
  fabric::Fabric f(arch, cfg.width, cfg.height, fabric::DataMode::Functional);
  CollectiveLayout c = build(cfg, arch);
  c.layout->load(f);
  EXPECT_LE(max_host_bytes(c, cfg), kBound) << what << ": program bound, idle";
  c.layout->call(c.function);
  const auto mid = f.run(20);  // microthreads running or waiting on the fabric
  ASSERT_FALSE(mid.completed) << what;
  EXPECT_LE(max_host_bytes(c, cfg), kBound + 3 * kPerMicrothread) << what << ": waiting";
  EXPECT_TRUE(f.run().completed) << what;
  EXPECT_TRUE(all_finished(*c.layout)) << what;
  EXPECT_LE(max_host_bytes(c, cfg), kBound) << what << ": after the run";
}

}  // namespace

TEST(ComputeEngineHostMemory, KTreeAllreduceCeStaysUnderOneKilobyte) {
  check([](const CollectiveConfig& c, const hw::ArchParams& a) { return ktree_allreduce(c, a); }, "ktree");
}

TEST(ComputeEngineHostMemory, RingAllreduceCeStaysUnderOneKilobyte) {
  check([](const CollectiveConfig& c, const hw::ArchParams& a) { return ring_allreduce(c, a); }, "ring");
}
