// The option checks of every `wafersim` subcommand (issue 10): numeric options are typed and ranged (no wrapped
// negatives, no run-forever or bad_alloc), limits that depend on the mesh or the SRAM are named with the value
// allowed, stray arguments are rejected, --version works, and a rejected run writes nothing. Every command runs
// under `timeout` so that a regression to "runs forever" fails instead of hanging the suite.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include <nlohmann/json.hpp>

#include "sc_tests/cli_run.hpp"
#include "sc_tests/test_dir.hpp"

namespace fs = std::filesystem;
using wafersim::test::CliRun;
using wafersim::test::TestDir;

namespace {

class CliOptions : public ::testing::Test {
 protected:
  void SetUp() override {
    exe_ = wafersim::test::built_wafersim();
    ASSERT_FALSE(exe_.empty()) << "wafersim is not built in " << WAFERSIM_BINARY_DIR << " (build the wafersim target)";
  }
  // Runs `wafersim ARGS` with a 60 s limit (exit 124 from timeout means it hung).
  CliRun run(const std::string& args) const { return wafersim::test::run_cli("timeout 60 " + exe_.string() + " " + args); }
  // A rejected command: exit `status`, and the message has every one of `words`.
  void expect_error(int status, const std::string& args, std::initializer_list<std::string> words) const {
    const CliRun r = run(args);
    EXPECT_EQ(r.status, status) << args << "\n" << r.out;
    for (const std::string& w : words) EXPECT_NE(r.out.find(w), std::string::npos) << args << ": no '" << w << "' in\n" << r.out;
  }
  // A usage error: exit 2.
  void expect_usage_error(const std::string& args, std::initializer_list<std::string> words) const {
    expect_error(2, args, words);
  }
  static nlohmann::json read_json(const fs::path& p) {
    std::ifstream in(p);
    return nlohmann::json::parse(in);
  }

  fs::path exe_;
  TestDir dir_;
};

TEST_F(CliOptions, NegativeCyclesAreRejectedNotWrappedIntoAnEndlessRun) {
  const fs::path json = dir_ / "fabric.json";
  expect_usage_error("bench fabric --mesh 4x4 --cycles -1 --json " + json.string(),
                     {"--cycles", "-1", "from 1 to 1000000000000"});
  EXPECT_FALSE(fs::exists(json));
  expect_usage_error("bench fabric --mesh 4x4 --cycles 1000000000001", {"--cycles", "1000000000000"});
  expect_usage_error("bench fabric --mesh 4x4 --cycles 1e3", {"--cycles", "1e3"});
  expect_usage_error("bench fabric --mesh 4x4 --seed -1", {"--seed", ">= 0"});
  expect_usage_error("bench fabric --mesh 4x4 --hops -2", {"--hops", "from 1 to 2147483647"});
  expect_usage_error("bench fabric --mesh 4x4 --rate 1.5", {"--rate", "in (0, 1]"});
  expect_usage_error("bench fabric --mesh 4x4 --rate 0", {"--rate", "in (0, 1]"});
  expect_usage_error("bench fabric --mesh 4x4 --rate nan", {"--rate"});
}

TEST_F(CliOptions, NegativeLenAndSeedOfAllreduceAreRejected) {
  expect_usage_error("bench allreduce --mesh 4x1 --len -1", {"--len", "-1", ">= 1"});
  expect_usage_error("bench allreduce --mesh 4x1 --len 0", {"--len", ">= 1"});
  expect_usage_error("bench allreduce --mesh 4x1 --seed -1", {"--seed", "from 0 to 4294967295"});
  expect_usage_error("bench allreduce --mesh 4x1 --len 12abc", {"--len", "12abc"});
}

// The largest --len comes from the SRAM size before anything is allocated: 4 GiB of elements is not wrapped to
// a small byte count, 1 Gi elements does not reach the host allocator, and the limit the message names is exact.
TEST_F(CliOptions, LenBeyondTheSramIsRejectedWithTheLargestThatFits) {
  const fs::path json = dir_ / "allreduce.json";
  for (const char* len : {"4000000000", "1073741824", "11265"}) {
    expect_usage_error(std::string("bench allreduce --mesh 2x1 --len ") + len + " --json " + json.string(),
                       {std::string("--len ") + len, "from 1 to 11264", "49152 bytes of SRAM", "4096 reserved"});
    EXPECT_FALSE(fs::exists(json));
  }
  struct Case {
    std::string args;
    unsigned max;
  };
  // fp32: (49152 - 4096) / 4; fp16: / 2; the ring with fp32 accumulation of fp16 keeps x (2 B) and acc (4 B).
  for (const Case& c : {Case{"--algo ktree --dtype fp32", 11264}, Case{"--algo pipeline --dtype fp16", 22528},
                        Case{"--algo ring --dtype fp16 --fp32-acc", 7509}}) {
    const std::string base = "bench allreduce --mesh 2x1 --timing-only " + c.args + " --len ";
    const CliRun at_max = run(base + std::to_string(c.max));
    EXPECT_EQ(at_max.status, 0) << c.args << "\n" << at_max.out;
    expect_usage_error(base + std::to_string(c.max + 1), {"from 1 to " + std::to_string(c.max)});
  }
}

TEST_F(CliOptions, KtreeGroupsAreCheckedAgainstTheLineAndReportedAsUsed) {
  expect_usage_error("bench allreduce --mesh 8x1 --groups -1", {"--groups", "-1", "from 0 to"});
  expect_usage_error("bench allreduce --mesh 8x1 --groups 100", {"--groups 100", "from 1 to 8", "along x", "8x1"});
  expect_usage_error("bench allreduce --mesh 2x8 --axis y --groups 9", {"--groups 9", "from 1 to 8", "along y"});
  expect_usage_error("bench allreduce --mesh 8x1 --groups2 2", {"--groups2", "--levels 3"});
  expect_usage_error("bench allreduce --mesh 8x1 --k 3 --groups 2 --groups2 3", {"--groups2 3", "from 1 to G = 2"});
  expect_usage_error("bench allreduce --mesh 8x1 --k 4", {"--k", "from 2 to 3"});
  expect_usage_error("bench allreduce --mesh 8x1 --levels 4", {"--levels", "from 2 to 3"});
  expect_usage_error("bench allreduce --mesh 8x1 --levels 3 --k 2", {"--k is an alias of --levels"});
  expect_usage_error("bench allreduce --mesh 8x1 --algo ring --levels 3", {"--levels", "--algo ktree only"});
  expect_usage_error("bench allreduce --mesh 8x1 --algo ring --groups 2", {"--groups", "ktree only"});

  const fs::path json = dir_ / "ktree.json";
  CliRun r = run("bench allreduce --mesh 8x1 --groups 3 --verify --json " + json.string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("K=2 G=3 along"), std::string::npos) << r.out;
  EXPECT_EQ(read_json(json)["groups"], 3);
  EXPECT_TRUE(read_json(json)["groups2"].is_null());
  // K=3 on 8 PEs: defaults G = round(8^(2/3)) = 4, G2 = round(8^(1/3)) = 2.
  r = run("bench allreduce --mesh 8x1 --levels 3 --verify --json " + json.string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(read_json(json)["levels"], 3);
  EXPECT_NE(r.out.find("K=3 G=4 G2=2 along"), std::string::npos) << r.out;
  EXPECT_EQ(read_json(json)["groups"], 4);
  EXPECT_EQ(read_json(json)["groups2"], 2);
}

TEST_F(CliOptions, KtreeGroupsThatNeedMoreInputQueuesThanThePeHasAreRefusedWithTheHolders) {
  // 16 single-PE groups under K=3 along X and Y in one program: at PE(8,0) the X module's streams take all 8 input
  // queues (IQ 0 included: the model's host copies do not stream through it), none is left for the Y module.
  const CliRun r = run("bench allreduce --mesh 16x16 --axis xy --k 3 --groups 16 --len 2");
  EXPECT_EQ(r.status, 1) << r.out;
  for (const char* words : {"PE(8,0): module 'cols' (ktree_allreduce): needs an input queue",
                            "input queues held: 0,1,2,3,4,5,6,7 by module 'rows' (ktree_allreduce)"})
    EXPECT_NE(r.out.find(words), std::string::npos) << words << " in: " << r.out;
}

TEST_F(CliOptions, StrayArgumentsAreRejectedByEveryCommand) {
  expect_usage_error("bench allreduce --mesh 4x1 --len 64 128", {"unexpected argument '128'"});
  expect_usage_error("bench fabric --mesh 4x4 extra", {"unexpected argument 'extra'"});
  expect_usage_error("bench fabric --timing-only extra --mesh 4x4", {"unexpected argument 'extra'"});
  expect_usage_error("params extra", {"unexpected argument 'extra'"});
  expect_usage_error("generate --model " + (dir_ / "none").string() + " --prompt hi extra", {"unexpected argument 'extra'"});
  expect_usage_error("tokenize --tokenizer t.json --text hi extra", {"unexpected argument 'extra'"});
  expect_usage_error("tokenize --tokenizer t.json --text hi -", {"unexpected argument '-'"});
  expect_usage_error("detokenize --tokenizer t.json --ids 1 extra", {"unexpected argument 'extra'"});
  const fs::path out = dir_ / "model";
  expect_usage_error("make-model --preset tiny --out " + out.string() + " extra", {"unexpected argument 'extra'"});
  EXPECT_FALSE(fs::exists(out));
  expect_usage_error("demo --out " + (dir_ / "demo").string() + " extra", {"unexpected argument 'extra'"});
  EXPECT_FALSE(fs::exists(dir_ / "demo"));
}

TEST_F(CliOptions, OtherCommandsCheckTheirNumbersToo) {
  expect_usage_error("generate --model m --prompt hi --max-new-tokens -1", {"--max-new-tokens", ">= 0"});
  expect_usage_error("generate --model m --prompt hi --threads -1", {"--threads", "from 0 to 4096"});
  expect_usage_error("generate --model m --prompt hi --top-p 2", {"--top-p", "in (0, 1]"});
  expect_usage_error("generate --model m --prompt hi --top-p 0", {"--top-p", "in (0, 1]"});
  expect_usage_error("generate --model m --prompt hi --temperature -0.5", {"--temperature", ">= 0"});
  expect_usage_error("make-model --preset tiny --seed -1 --out " + (dir_ / "m").string(), {"--seed", ">= 0"});
  EXPECT_FALSE(fs::exists(dir_ / "m"));
  expect_usage_error("demo --max-new-tokens -3 --out " + (dir_ / "demo").string(), {"--max-new-tokens", "from 0 to"});
}

TEST_F(CliOptions, TokenizerDirectoryIsNamedAsADirectory) {
  // An input that is there but unusable is an error of the run (exit 1), like a file that fails to parse.
  for (const char* cmd : {"tokenize --text hi", "detokenize --ids 1"})
    expect_error(1, std::string(cmd) + " --tokenizer " + dir_.path().string(),
                 {"--tokenizer " + dir_.path().string(), "is a directory", "tokenizer.json"});
  expect_error(1, "tokenize --text hi --tokenizer " + (dir_ / "missing.json").string(), {"missing.json", "no such file"});
}

TEST_F(CliOptions, VersionNamesTheRevisionAndTheBuildType) {
  const CliRun top = run("--version");
  ASSERT_EQ(top.status, 0) << top.out;
  EXPECT_TRUE(std::regex_match(top.out, std::regex(R"(wafersim \d+\.\d+\.\d+ \(git ([0-9a-f]+(-dirty)?|unknown), \w+ build\)\n)")))
      << top.out;
  const CliRun sub = run("bench fabric --version");
  EXPECT_EQ(sub.status, 0);
  EXPECT_EQ(sub.out, top.out);
}

TEST_F(CliOptions, JsonRecordsTheCommandLineAndOverridesWithOneNamePerQuantity) {
  const fs::path json = dir_ / "fabric.json";
  const std::string args = "bench fabric --mesh 6x4 --cycles 300 --quiet --set simulation.host_threads=1 --json " + json.string();
  const CliRun r = run(args);
  ASSERT_EQ(r.status, 0) << r.out;
  const nlohmann::json j = read_json(json);
  const std::vector<std::string> argv = {"wafersim", "bench",    "fabric", "--mesh",  "6x4",
                                         "--cycles", "300",      "--quiet", "--set",  "simulation.host_threads=1",
                                         "--json",   json.string()};
  EXPECT_EQ(j["argv"], argv);
  EXPECT_EQ(j["overrides"], std::vector<std::string>{"simulation.host_threads=1"});
  EXPECT_EQ(j["simulated_cycles"], 300);
  EXPECT_EQ(j["config"]["simulation"]["host_threads"], 1);
  EXPECT_FALSE(j.contains("cycles"));
  EXPECT_FALSE(j.contains("wavelet_hops"));  // in "stats", once
  EXPECT_FALSE(j["stats"].contains("simulated_cycles"));
  EXPECT_GT(j["stats"]["wavelet_hops"].get<long>(), 0);
  EXPECT_FALSE(j["build_type"].get<std::string>().empty());
  // No progress line in a run this short (the first comes after 2 s), and none with --quiet anyway.
  EXPECT_EQ(r.out.find("cycles/s,"), std::string::npos) << r.out;
}

// docs/results.md documents every top-level key each command writes (a table per command).
TEST_F(CliOptions, EveryJsonKeyIsDocumented) {
  std::ifstream in(fs::path(WAFERSIM_SOURCE_DIR) / "docs/results.md");
  ASSERT_TRUE(in) << "docs/results.md is missing";
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const fs::path fabric = dir_ / "fabric.json", allreduce = dir_ / "allreduce.json";
  ASSERT_EQ(run("bench fabric --mesh 4x4 --cycles 50 --json " + fabric.string()).status, 0);
  ASSERT_EQ(run("bench allreduce --mesh 4x1 --verify --json " + allreduce.string()).status, 0);
  for (const fs::path& p : {fabric, allreduce}) {
    const nlohmann::json j = read_json(p);
    for (const auto& [key, value] : j.items())
      EXPECT_NE(doc.find("`" + key + "`"), std::string::npos) << p.filename() << ": key " << key << " is not in docs/results.md";
    if (!j.contains("stats")) continue;
    for (const auto& [key, value] : j["stats"].items())
      EXPECT_NE(doc.find("`stats." + key + "`"), std::string::npos) << "stats." << key << " is not in docs/results.md";
  }
}

}  // namespace
