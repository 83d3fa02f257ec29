// Architecture files and routes are validated before anything runs; errors name the file/PE, key/colour, limit.
#include <gtest/gtest.h>

#include <fstream>

#include "common/error.hpp"
#include "fabric_fixture.hpp"
#include "hw/arch_params.hpp"
#include "sc_tests/test_dir.hpp"

using namespace wafersim;
using namespace wafersim::fabric;
using namespace wafersim::fabric::testing;

namespace {

std::string source_dir() { return WAFERSIM_SOURCE_DIR; }

std::string load_error(const std::string& yaml) {
  const wafersim::test::TestDir dir;
  const std::string path = (dir / "arch.yaml").string();
  std::ofstream(path) << yaml;
  std::string msg;
  try {
    hw::load_arch(path);
    ADD_FAILURE() << "no error for:\n" << yaml;
  } catch (const ConfigError& e) {
    msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << "error must name the file: " << msg;
  }
  return msg;
}

TEST(ArchConfig, Wse2PresetHoldsThePublishedValues) {
  const hw::ArchParams a = hw::load_arch(source_dir() + "/configs/wse2.yaml");
  EXPECT_EQ(a.name, "wse2");
  EXPECT_EQ(a.fabric.width, 757);
  EXPECT_EQ(a.fabric.height, 996);
  EXPECT_DOUBLE_EQ(a.clock_hz, 1.1e9);
  EXPECT_EQ(a.router.routable_colors, 24);
  EXPECT_EQ(a.queues.input_depths, (std::vector<int>{6, 6, 4, 4, 2, 2, 2, 2}));
  EXPECT_EQ(a.queues.output_depths, (std::vector<int>{2, 2, 6, 6, 2, 2}));
  EXPECT_EQ(a.pe.sram_bytes, 49152u);
  EXPECT_EQ(a.pe.simd.fmach, 4);
  EXPECT_EQ(a.pe.simd.fmachs, 2);
  EXPECT_EQ(a.router.switch_colors.size(), 24u);
  EXPECT_EQ(a.host_io.reserved_colors, (std::vector<int>{21, 22, 23}));
}

TEST(ArchConfig, Wse3PresetDiffersWhereTheHardwareDoes) {
  const hw::ArchParams a = hw::load_arch(source_dir() + "/configs/wse3.yaml");
  EXPECT_EQ(a.fabric.width, 762);
  EXPECT_EQ(a.fabric.height, 1176);
  EXPECT_EQ(a.pe.simd.fmach, 8);
  EXPECT_EQ(a.queues.output_depths, (std::vector<int>(8, 8)));
  EXPECT_EQ(a.router.switch_colors.size(), 16u);
}

TEST(ArchConfig, UnknownKeyIsAnErrorNamingTheKey) {
  const std::string msg = load_error("router:\n  hop_latency_cycles: 2\n");
  EXPECT_NE(msg.find("router.hop_latency_cycles"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown key"), std::string::npos) << msg;
  EXPECT_NE(msg.find("link_latency"), std::string::npos) << "should list the known keys: " << msg;
}

TEST(ArchConfig, WrongTypeIsAnError) {
  const std::string msg = load_error("fabric: { width: wide, height: 4 }\n");
  EXPECT_NE(msg.find("fabric.width"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected an integer"), std::string::npos) << msg;
}

TEST(ArchConfig, ZeroWidthMeshIsOutOfRange) {
  const std::string msg = load_error("fabric: { width: 0, height: 4 }\n");
  EXPECT_NE(msg.find("fabric.width"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[1, 4096]"), std::string::npos) << msg;
}

TEST(ArchConfig, FortyColoursIsOutOfRange) {
  const std::string msg = load_error("router: { routable_colors: 40 }\n");
  EXPECT_NE(msg.find("router.routable_colors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[1, 31]"), std::string::npos) << msg;
}

TEST(ArchConfig, NegativeLatencyIsOutOfRange) {
  const std::string msg = load_error("router: { link_latency: -1 }\n");
  EXPECT_NE(msg.find("router.link_latency"), std::string::npos) << msg;
}

TEST(ArchConfig, MalformedYamlNamesTheLine) {
  const std::string msg = load_error("fabric:\n  width: [1, 2\n");
  EXPECT_NE(msg.find("line"), std::string::npos) << msg;
}

TEST(ArchConfig, OverrideIsValidatedLikeTheFile) {
  hw::ArchParams a;
  hw::apply_overrides(a, {"router.link_latency=3"});
  EXPECT_EQ(a.router.link_latency, 3);
  EXPECT_THROW(hw::apply_overrides(a, {"router.link_latency=-3"}), ConfigError);
  EXPECT_THROW(hw::apply_overrides(a, {"router.nope=1"}), ConfigError);
}

TEST(ArchConfig, MeshLargerThanTheFabricIsRejected) {
  hw::ArchParams a;
  a.fabric.width = 8;
  a.fabric.height = 8;
  EXPECT_THROW(Fabric(a, 9, 8), ConfigError);
  EXPECT_THROW(Fabric(a, 0, 8), ConfigError);
}

std::string route_error(Fabric& f) {
  try {
    f.validate_routes();
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "routes were accepted";
  return "";
}

TEST(RouteValidation, TxOffTheEdgeNamesThePeAndColour) {
  Fabric f(small_arch(), 3, 3);
  f.set_color_config(2, 1, 5, route(bit(Dir::Ramp), bit(Dir::East)));
  const std::string msg = route_error(f);
  EXPECT_NE(msg.find("PE(2,1) colour 5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("off the edge"), std::string::npos) << msg;
}

TEST(RouteValidation, RxFromTwoSendingNeighboursIsRejected) {
  Fabric f(small_arch(), 3, 1);
  f.set_color_config(0, 0, 2, route(bit(Dir::Ramp), bit(Dir::East)));
  f.set_color_config(2, 0, 2, route(bit(Dir::Ramp), bit(Dir::West)));
  f.set_color_config(1, 0, 2, route(bit(Dir::West) | bit(Dir::East), bit(Dir::Ramp)));
  const std::string msg = route_error(f);
  EXPECT_NE(msg.find("PE(1,0) colour 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("two directions at once"), std::string::npos) << msg;
}

TEST(RouteValidation, TxIntoANeighbourThatDoesNotReceiveIsRejected) {
  Fabric f(small_arch(), 2, 1);
  f.set_color_config(0, 0, 1, route(bit(Dir::Ramp), bit(Dir::East)));
  const std::string msg = route_error(f);
  EXPECT_NE(msg.find("PE(1,0) does not receive colour 1 from W"), std::string::npos) << msg;
}

TEST(RouteValidation, ColourBeyondTheRoutableOnesIsRejected) {
  Fabric f(small_arch(), 2, 1);
  try {
    f.set_color_config(0, 0, 24, route(bit(Dir::Ramp), bit(Dir::East)));
    FAIL() << "colour 24 accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("only colours 0..23 are routable"), std::string::npos) << e.what();
  }
}

TEST(RouteValidation, SwitchOnANonSwitchableColourIsRejected) {
  hw::ArchParams a = small_arch();
  a.router.switch_colors = {0, 1};
  Fabric f(a, 2, 1);
  hw::ColorConfig c = route(bit(Dir::Ramp), bit(Dir::East));
  c.positions[0] = {hw::SwitchPosition::Kind::Tx, bit(Dir::Ramp)};
  EXPECT_NO_THROW(f.set_color_config(0, 0, 1, c));
  EXPECT_THROW(f.set_color_config(0, 0, 10, c), ConfigError);
}

TEST(Deadlock, ReportNamesStuckPesColoursAndQueues) {
  // Colour 3 is routed to PE(2,0)'s CE, but no input queue is bound to it there.
  hw::ArchParams a = small_arch();
  a.simulation.deadlock_cycles = 50;
  Fabric f(a, 3, 1);
  route_east(f, 0, 0, 2, 3);
  Drivers drv(f);
  for (int i = 0; i < 20; ++i) drv.at(0, 0).send(data(i, 3), 2);
  drv.attach({{0, 0}});
  try {
    f.run();
    FAIL() << "no deadlock reported";
  } catch (const DeadlockError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("nothing moved for 50 cycles"), std::string::npos) << msg;
    EXPECT_NE(msg.find("PE(2,0) colour 3"), std::string::npos) << msg;
    EXPECT_NE(msg.find("no input queue bound to colour 3"), std::string::npos) << msg;
    EXPECT_NE(msg.find("PE(0,0) OQ 2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("PE(0,0) compute engine: stream driver"), std::string::npos) << msg;
  }
  EXPECT_LT(f.now(), Cycle(200));  // reported promptly, simulated time did not run away
}

}  // namespace
