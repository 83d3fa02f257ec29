// Architecture files as a user writes and re-reads them: sections must be maps, keys appear once, --set overrides
// apply together (any order) before the whole is checked, errors name the --set or the file line and the limit,
// and what wafersim writes (to_json, to_yaml, a JSON result's "config") loads back to the same parameters.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "hw/arch_params.hpp"
#include "sc_tests/test_dir.hpp"

using namespace wafersim;

namespace {

const std::string kSource = WAFERSIM_SOURCE_DIR;

std::string preset(const std::string& name) { return kSource + "/configs/" + name + ".yaml"; }

std::string write(const wafersim::test::TestDir& dir, const std::string& name, const std::string& text) {
  const std::string path = (dir / name).string();
  std::ofstream(path) << text;
  return path;
}

std::string load_error(const std::string& file, const std::vector<std::string>& overrides = {}) {
  try {
    hw::load_arch(file, overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error loading " << file;
  return "";
}

std::string yaml_error(const std::string& yaml) {
  wafersim::test::TestDir dir;
  const std::string path = write(dir, "arch.yaml", yaml);
  const std::string msg = load_error(path);
  EXPECT_NE(msg.find(path), std::string::npos) << "error must name the file: " << msg;
  return msg;
}

// The 1-based line of `file` that contains `text`.
int line_of(const std::string& file, const std::string& text) {
  std::ifstream in(file);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n)
    if (line.find(text) != std::string::npos) return n;
  ADD_FAILURE() << text << " not in " << file;
  return -1;
}

nlohmann::json params_only(const hw::ArchParams& a) {
  nlohmann::json j = hw::to_json(a);
  j.erase("source");
  return j;
}

void contains(const std::string& msg, const std::vector<std::string>& parts) {
  for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "missing '" << p << "' in: " << msg;
}

TEST(ArchFile, SectionGivenAsAListIsNotAMap) {
  const std::string msg = yaml_error("fabric: { width: 4, height: 4 }\nrouter: [1, 2]\n");
  contains(msg, {": line 2: router: expected a map", "routable_colors", "got a list"});
  EXPECT_EQ(msg.find("unknown key"), std::string::npos) << msg;
}

TEST(ArchFile, NestedSectionGivenAsANumberIsNotAMap) {
  const std::string msg = yaml_error("pe:\n  sram_bytes: 49152\n  simd: 4\n");
  contains(msg, {": line 3: pe.simd: expected a map", "fmach", "got '4'"});
}

TEST(ArchFile, DuplicateKeyNamesBothLines) {
  const std::string msg = yaml_error("fabric:\n  width: 5\n  height: 5\n  width: 6\n");
  contains(msg, {": line 4: fabric.width: duplicate key", "first given at line 2"});
}

TEST(ArchFile, DuplicateSectionIsRejected) {
  const std::string msg = yaml_error("router: { link_latency: 2 }\nclock_hz: 1e9\nrouter: { ramp_latency: 3 }\n");
  contains(msg, {": line 3: router: duplicate key", "first given at line 1"});
}

TEST(ArchFile, DuplicateKeyInAFlowMapIsRejected) {
  const std::string msg = yaml_error("pe:\n  simd: { fmach: 4, fmachs: 2, fmach: 8 }\n");
  contains(msg, {": line 2: pe.simd.fmach: duplicate key"});
}

TEST(ArchFile, DirectoryIsNamedAsADirectory) {
  wafersim::test::TestDir dir;
  const std::string msg = load_error(dir.path().string());
  contains(msg, {dir.path().string() + ": is a directory"});
}

TEST(ArchFile, MissingFileIsNamed) {
  wafersim::test::TestDir dir;
  const std::string msg = load_error((dir / "nope.yaml").string());
  contains(msg, {(dir / "nope.yaml").string() + ": no such architecture file"});
}

TEST(ArchFile, ConstraintBetweenFileValuesNamesTheLineAndTheLimit) {
  const std::string msg = yaml_error("router: { routable_colors: 8 }\nhost_io: { reserved_colors: [5, 9] }\n");
  contains(msg, {": line 2: host_io.reserved_colors: colour 9 is not routable", "colours 0..7",
                 "router.routable_colors comes from", ": line 1"});
}

TEST(ArchFile, ConfigKeyBesideParametersIsUnknown) {
  // Only a JSON result (no parameters at its top level) is read through its "config" object.
  const std::string msg = yaml_error("fabric: { width: 4, height: 4 }\nconfig: { clock_hz: 1e9 }\n");
  contains(msg, {": line 2: config: unknown key"});
}

TEST(ArchOverrides, ShrinkingTheColourBudgetNeedsNoParticularOrder) {
  const std::vector<std::string> sets = {"router.routable_colors=8", "host_io.reserved_colors=[5, 6, 7]"};
  const hw::ArchParams forward = hw::load_arch(preset("wse2"), sets);
  const hw::ArchParams backward = hw::load_arch(preset("wse2"), {sets[1], sets[0]});
  EXPECT_EQ(forward.router.routable_colors, 8);
  EXPECT_EQ(forward.host_io.reserved_colors, (std::vector<int>{5, 6, 7}));
  // 'all' in wse2.yaml means every routable colour of the final configuration.
  EXPECT_EQ(forward.router.switch_colors, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(params_only(forward), params_only(backward));
}

TEST(ArchOverrides, SwitchColoursNotGivenFollowTheRoutableColours) {
  const hw::ArchParams a = hw::load_arch(preset("test-small"), {"host_io.reserved_colors=[4]", "router.routable_colors=5"});
  EXPECT_EQ(a.router.switch_colors, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(ArchOverrides, DefaultFieldIsNamedAsADefault) {
  const std::string file = preset("test-small");
  const std::string msg = load_error(file, {"router.routable_colors=8"});
  contains(msg, {"--set router.routable_colors=8: host_io.reserved_colors: colours 21, 22, 23 are not routable",
                 "host_io.reserved_colors comes from the defaults (not set in " + file + ")"});
}

TEST(ArchOverrides, ShrinkingWse3ColoursTakesThreeOverridesInAnyOrder) {
  const std::vector<std::string> sets = {"router.routable_colors=8", "host_io.reserved_colors=[5, 6, 7]",
                                         "router.switch_colors=[0, 1, 2, 3]"};
  const hw::ArchParams a = hw::load_arch(preset("wse3"), {sets[0], sets[1], sets[2]});
  const hw::ArchParams b = hw::load_arch(preset("wse3"), {sets[2], sets[0], sets[1]});
  EXPECT_EQ(a.router.switch_colors, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(params_only(a), params_only(b));
}

TEST(ArchOverrides, ViolationIsBlamedOnTheSetWithTheFileLineOfTheOtherField) {
  const std::string file = preset("wse2");
  const std::string msg = load_error(file, {"router.routable_colors=8"});
  EXPECT_EQ(msg.rfind("--set router.routable_colors=8: host_io.reserved_colors: colours 21, 22, 23 are not routable", 0), 0u)
      << msg;
  contains(msg, {"limit: colours 0..7",
                 "host_io.reserved_colors comes from " + file + ": line " + std::to_string(line_of(file, "reserved_colors"))});
}

TEST(ArchOverrides, EveryViolationIsReported) {
  const std::string msg = load_error(preset("wse3"), {"router.routable_colors=8", "pe.code_reserve_bytes=50000"});
  contains(msg, {"--set router.routable_colors=8: host_io.reserved_colors", "--set router.routable_colors=8: router.switch_colors",
                 "--set pe.code_reserve_bytes=50000: pe.code_reserve_bytes: 50000 exceeds the SRAM (limit: pe.sram_bytes = 49152)"});
}

TEST(ArchOverrides, OutOfRangeValueNamesTheSetAndTheRange) {
  const std::string msg = load_error(preset("wse2"), {"router.link_latency=2", "router.routable_colors=40"});
  EXPECT_EQ(msg.rfind("--set router.routable_colors=40: router.routable_colors: value 40 is out of range [1, 31]", 0), 0u)
      << msg;
}

TEST(ArchOverrides, SameKeyTwiceIsRejected) {
  const std::string msg = load_error(preset("wse2"), {"router.link_latency=2", "router.link_latency=3"});
  contains(msg, {"--set router.link_latency=3: router.link_latency is already set by --set router.link_latency=2"});
}

TEST(ArchOverrides, UnknownKeyListsTheKeysOfItsSection) {
  const std::string msg = load_error(preset("wse2"), {"router.colors=8"});
  contains(msg, {"--set router.colors=8: unknown parameter 'router.colors'", "routable_colors"});
}

class ArchRoundTrip : public ::testing::TestWithParam<std::tuple<std::string, std::vector<std::string>>> {};

TEST_P(ArchRoundTrip, WrittenConfigurationLoadsBackToTheSameParameters) {
  const auto& [name, sets] = GetParam();
  const hw::ArchParams a = hw::load_arch(preset(name), sets);
  wafersim::test::TestDir dir;
  const std::string yaml = write(dir, "params.yaml", hw::to_yaml(a));
  const std::string json = write(dir, "config.json", hw::to_json(a).dump(2));
  nlohmann::json result = {{"host_seconds", 0.5}, {"simulated_cycles", 10}, {"config", hw::to_json(a)}};
  const std::string result_file = write(dir, "result.json", result.dump(2));
  for (const std::string& file : {yaml, json, result_file}) {
    const hw::ArchParams b = hw::load_arch(file);
    EXPECT_EQ(params_only(b), params_only(a)) << file;
    EXPECT_EQ(b.source, file);
  }
}

INSTANTIATE_TEST_SUITE_P(
    PresetsAndOverrides, ArchRoundTrip,
    ::testing::Values(std::make_tuple(std::string("wse2"), std::vector<std::string>{}),
                      std::make_tuple(std::string("wse3"), std::vector<std::string>{}),
                      std::make_tuple(std::string("wse2"),
                                      std::vector<std::string>{"router.routable_colors=8", "host_io.reserved_colors=[5,6,7]",
                                                               "clock_hz=0.85e9", "pe.bank_conflicts=true",
                                                               "host_io.channel_words_per_cycle=0.3"}),
                      std::make_tuple(std::string("wse3"),
                                      std::vector<std::string>{"router.link_latency=3", "pe.sram_bytes=98304",
                                                               "simulation.deadlock_cycles=1e5"})),
    [](const auto& info) {
      return std::get<0>(info.param) + (std::get<1>(info.param).empty() ? "" : "WithOverrides");
    });

TEST(ArchRoundTrip, YamlShowsUnitRangeAndProvenance) {
  const std::string y = hw::to_yaml(hw::load_arch(preset("wse2")));
  contains(y, {"name: \"wse2\"\n", "fabric:\n  width: 757 ", "# PEs, [1, 4096], published\n",
               "  simd:\n    fmach: 4 ", "link_latency: 1 ", "# cycles, [1, 1000], assumption\n"});
}

}  // namespace
