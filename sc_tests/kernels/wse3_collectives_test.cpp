// WSE-3 rules on the collectives (sc_tests/hw/wse3_rules_test.cpp has the single-PE rules): a pipeline allreduce
// (one fabin per operation, one colour per output queue, local task IDs from 8) runs on the wse3 preset and matches
// the CPU oracle; a K-tree whose roots join two streams in one operation is a WSE-2-only program, and loading it on
// WSE-3 fails naming the PE, the module instance and the limit.
#include <gtest/gtest.h>

#include <string>

#include "hw/arch_params.hpp"
#include "sc_tests/kernels/kernel_harness.hpp"

using namespace wafersim;
using namespace wafersim::kernels;

namespace {
hw::ArchParams wse3() { return hw::load_arch(std::string(WAFERSIM_SOURCE_DIR) + "/configs/wse3.yaml"); }
}  // namespace

TEST(Wse3Rules, PipelineAllreduceRunsOnWse3) {
  CollectiveConfig cfg;
  cfg.width = 5;
  cfg.height = 2;
  cfg.length = 6;
  const test::Outcome o = test::run_collective(
      [](const CollectiveConfig& c, const hw::ArchParams& a) { return pipeline_allreduce(c, a); }, cfg, 3, wse3());
  EXPECT_TRUE(o.finished);
  test::expect_reduced(cfg, o, [](int) { return true; }, "pipeline on wse3");
}

TEST(Wse3Rules, KTreeJoiningStreamsInOneOperationIsAWse2OnlyProgram) {
  CollectiveConfig cfg;
  cfg.width = 9;
  cfg.height = 1;
  cfg.length = 4;
  const hw::ArchParams arch = wse3();
  fabric::Fabric f(arch, cfg.width, cfg.height);
  CollectiveLayout c = ktree_allreduce(cfg, arch);
  c.layout->load(f);
  c.layout->call(c.function);
  try {
    f.run();
    FAIL() << "a K-tree root joining two streams in one operation must fail on WSE-3";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("PE("), std::string::npos) << msg;
    EXPECT_NE(msg.find("2 fabric input operands; this architecture allows 1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("module 'rows' (ktree_allreduce)"), std::string::npos) << msg;
  }
}
