// --arch on the command line: preset names, files wafersim wrote itself (`params` YAML, a --json result), and errors
// that name the path, the line or the --set option with the limit, with exit status 1.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "sc_tests/cli_run.hpp"
#include "sc_tests/test_dir.hpp"

namespace {

using wafersim::test::run_cli;

std::string wafersim_exe() {
  const auto exe = wafersim::test::built_wafersim();
  if (exe.empty()) ADD_FAILURE() << "wafersim is not built in " << WAFERSIM_BINARY_DIR;
  return exe.string();
}

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A resolved configuration without its `source:` line (the file it was read from).
std::string without_source(const std::string& yaml) {
  std::istringstream in(yaml);
  std::string line, out;
  while (std::getline(in, line))
    if (line.rfind("source: ", 0) != 0) out += line + "\n";
  return out;
}

TEST(ArchCli, DirectoryIsNamedAsADirectory) {
  const std::string exe = wafersim_exe();
  ASSERT_FALSE(exe.empty());
  wafersim::test::TestDir dir;
  const auto r = run_cli(exe + " params --arch " + dir.path().string());
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find(dir.path().string() + ": is a directory"), std::string::npos) << r.out;
}

TEST(ArchCli, PresetNamesAreShorthandsForTheConfigsFiles) {
  const std::string exe = wafersim_exe();
  ASSERT_FALSE(exe.empty());
  const auto by_name = run_cli(exe + " params --arch wse3");
  const auto by_file = run_cli(exe + " params --arch " + std::string(WAFERSIM_SOURCE_DIR) + "/configs/wse3.yaml");
  ASSERT_EQ(by_name.status, 0) << by_name.out;
  ASSERT_EQ(by_file.status, 0) << by_file.out;
  EXPECT_NE(by_name.out.find("  width: 762 "), std::string::npos) << by_name.out;
  EXPECT_EQ(without_source(by_name.out), without_source(by_file.out));
  const auto wse2 = run_cli(exe + " params");
  EXPECT_NE(wse2.out.find("  width: 757 "), std::string::npos) << "the default is wse2: " << wse2.out;
}

TEST(ArchCli, UnknownPresetListsThePresets) {
  const std::string exe = wafersim_exe();
  ASSERT_FALSE(exe.empty());
  const auto r = run_cli(exe + " params --arch wse9");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("--arch wse9: no such file, and no preset of that name"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("wse2, wse3"), std::string::npos) << r.out;
}

TEST(ArchCli, ParamsOutputLoadsBackForBothPresetsAndWithOverrides) {
  const std::string exe = wafersim_exe();
  ASSERT_FALSE(exe.empty());
  wafersim::test::TestDir dir;
  for (const char* args : {"--arch wse2", "--arch wse3",
                                 "--arch wse3 --set router.link_latency=3 --set pe.simd.fmach=16 --set clock_hz=0.85e9"}) {
    const auto file = dir / "params.yaml";
    const auto first = run_cli(exe + " params " + args + " > " + file.string());
    ASSERT_EQ(first.status, 0) << args << ": " << read(file);
    const auto again = run_cli(exe + " params --arch " + file.string());
    ASSERT_EQ(again.status, 0) << again.out;
    EXPECT_EQ(without_source(again.out), without_source(read(file))) << args;
    EXPECT_NE(again.out.find("source: \"" + file.string() + "\""), std::string::npos) << again.out;
  }
}

TEST(ArchCli, JsonResultReproducesItsConfiguration) {
  const std::string exe = wafersim_exe();
  ASSERT_FALSE(exe.empty());
  wafersim::test::TestDir dir;
  const std::string sets = " --arch wse3 --set router.link_latency=2 --set simulation.deadlock_cycles=5000";
  const auto json = dir / "result.json";
  const auto run = run_cli(exe + " bench fabric --mesh 2x2 --cycles 20 --json " + json.string() + sets);
  ASSERT_EQ(run.status, 0) << run.out;
  const auto from_result = run_cli(exe + " params --arch " + json.string());
  const auto direct = run_cli(exe + " params" + sets);
  ASSERT_EQ(from_result.status, 0) << from_result.out;
  EXPECT_NE(direct.out.find("  link_latency: 2 "), std::string::npos) << direct.out;
  EXPECT_EQ(without_source(from_result.out), without_source(direct.out));
}

TEST(ArchCli, OverrideErrorNamesTheSetAndTheLimit) {
  const std::string exe = wafersim_exe();
  ASSERT_FALSE(exe.empty());
  const auto r = run_cli(exe + " params --set router.routable_colors=8");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("--set router.routable_colors=8: host_io.reserved_colors: colours 21, 22, 23 are not routable "
                       "(limit: colours 0..7"),
            std::string::npos)
      << r.out;
  // Fixing the reserved colours, before or after, is enough: overrides are checked together.
  for (const char* sets : {"--set router.routable_colors=8 --set 'host_io.reserved_colors=[5,6,7]'",
                                 "--set 'host_io.reserved_colors=[5,6,7]' --set router.routable_colors=8"}) {
    const auto ok = run_cli(exe + " params " + sets);
    EXPECT_EQ(ok.status, 0) << sets << ": " << ok.out;
    EXPECT_NE(ok.out.find("  switch_colors: [0, 1, 2, 3, 4, 5, 6, 7] "), std::string::npos) << ok.out;
  }
}

TEST(ArchCli, DuplicateKeyNamesTheFileAndLine) {
  const std::string exe = wafersim_exe();
  ASSERT_FALSE(exe.empty());
  wafersim::test::TestDir dir;
  const auto file = dir / "dup.yaml";
  std::ofstream(file) << "name: dup\nrouter:\n  link_latency: 2\n  link_latency: 3\n";
  const auto r = run_cli(exe + " params --arch " + file.string());
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find(file.string() + ": line 4: router.link_latency: duplicate key (first given at line 3)"),
            std::string::npos)
      << r.out;
}

}  // namespace
