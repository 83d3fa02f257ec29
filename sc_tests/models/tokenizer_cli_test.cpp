// `wafersim tokenize` / `wafersim detokenize` end to end, on the built-in small tokenizer. Runs the CLI binary
// of this build tree.
#include "sc_tests/cli_run.hpp"
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "models/tokenizer.hpp"
#include "models/tokenizer_builder.hpp"

namespace wafersim::models {
namespace {

namespace fs = std::filesystem;

using wafersim::test::CliRun;

class TokenizerCli : public wafersim::test::CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    if (HasFatalFailure()) return;
    tokenizer_ = dir() / "tokenizer.json";
    std::ofstream(tokenizer_) << build_small_tokenizer_json(600);
  }
  fs::path tokenizer_;
};

TEST_F(TokenizerCli, TokenizePrintsIdsAndWritesJson) {
  const auto tok = Tokenizer::load(tokenizer_);
  const auto ids = tok.encode("Hello, wafer!");
  std::string expected;
  for (size_t i = 0; i < ids.size(); ++i) expected += (i ? "," : "") + std::to_string(ids[i]);

  const fs::path json_path = dir() / "out" / ".." / "ids.json";
  fs::create_directories(dir() / "out");
  const CliRun r =
      run("tokenize --tokenizer " + tokenizer_.string() + " --text 'Hello, wafer!' --json " + json_path.string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, expected + "\n");
  std::ifstream in(json_path);
  const auto doc = nlohmann::json::parse(in);
  EXPECT_EQ(doc.at("ids").get<std::vector<int32_t>>(), ids);
}

TEST_F(TokenizerCli, DetokenizeInvertsTokenize) {
  const auto ids = Tokenizer::load(tokenizer_).encode("Hello, wafer!", false);
  std::string list;
  for (size_t i = 0; i < ids.size(); ++i) list += (i ? "," : "") + std::to_string(ids[i]);
  const CliRun r = run("detokenize --tokenizer " + tokenizer_.string() + " --ids " + list);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "Hello, wafer!\n");
  const CliRun skip =
      run("detokenize --tokenizer " + tokenizer_.string() + " --ids 598," + list + ",599 --skip-special-tokens");
  EXPECT_EQ(skip.out, "Hello, wafer!\n");
}

TEST_F(TokenizerCli, BadArgumentsAreUsageErrors) {
  EXPECT_EQ(run("detokenize --tokenizer " + tokenizer_.string() + " --ids 1,two").status, 2);
  EXPECT_EQ(run("detokenize --tokenizer " + tokenizer_.string() + " --ids 600").status, 2);
  EXPECT_EQ(run("tokenize --tokenizer " + tokenizer_.string()).status, 2);  // --text is required
  const CliRun missing = run("tokenize --tokenizer " + (dir() / "absent.json").string() + " --text hi");
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.out.find("absent.json"), std::string::npos) << missing.out;
}

}  // namespace
}  // namespace wafersim::models
