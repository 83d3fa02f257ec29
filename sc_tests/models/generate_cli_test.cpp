// `wafersim make-model` and `wafersim generate` end to end: the CLI binary of this build tree must produce the
// same tokens as the library, write complete JSON and fail cleanly.
#include "sc_tests/cli_run.hpp"
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "models/cpu_reference.hpp"
#include "models/generator.hpp"
#include "models/llama_weights.hpp"
#include "models/tokenizer.hpp"

namespace wafersim::models {
namespace {

namespace fs = std::filesystem;

using wafersim::test::CliRun;

class GenerateCli : public wafersim::test::CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    if (HasFatalFailure()) return;
    const CliRun made = run("make-model --preset tiny --seed 2 --out " + model());
    ASSERT_EQ(made.status, 0) << made.out;
  }
  std::string model() const { return (dir() / "tiny").string(); }
  nlohmann::json read_json(const fs::path& p) const {
    std::ifstream in(p);
    return nlohmann::json::parse(in);
  }
};

TEST_F(GenerateCli, GreedyTokensMatchTheLibraryAndJsonIsComplete) {
  const fs::path json = dir() / "out.json";
  const CliRun r =
      run("generate --model " + model() + " --prompt 'Hello wafer' --max-new-tokens 12 --ignore-eos --json " +
          json.string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("tokens/s"), std::string::npos) << r.out;
  const auto j = read_json(json);

  const Tokenizer tok = Tokenizer::load(dir() / "tiny" / "tokenizer.json");
  const auto prompt = tok.encode("Hello wafer");
  EXPECT_EQ(j["prompt_tokens"].get<std::vector<int32_t>>(), prompt);
  EXPECT_EQ(prompt.front(), 510);  // <|begin_of_text|>
  auto weights = std::make_shared<const LlamaWeights>(load_llama_model(dir() / "tiny"));
  CpuReference backend(weights);
  GenerationOptions opt;
  opt.max_new_tokens = 12;
  const auto expected = Generator(backend).run(prompt, opt);
  EXPECT_EQ(j["tokens"].get<std::vector<int32_t>>(), expected.tokens);
  EXPECT_EQ(j["text"], tok.decode(expected.tokens, true));
  EXPECT_NE(r.out.find(j["text"].get<std::string>()), std::string::npos);  // streamed to stdout
  for (const char* key : {"host_seconds", "tokens_per_second", "prefill_seconds", "decode_seconds"})
    EXPECT_GT(j[key].get<double>(), 0.0) << key;
  EXPECT_GT(j["peak_rss_bytes"].get<int64_t>(), 1 << 20);
  EXPECT_FALSE(j["git_revision"].get<std::string>().empty());
  EXPECT_EQ(j["decode_steps"], 11);
  EXPECT_EQ(j["config"]["num_key_value_heads"], 2);
}

// The wafer (the default device) and the CPU reference generate the same greedy tokens; the wafer's JSON carries
// the simulated time per token and the region's resources.
TEST_F(GenerateCli, WaferMatchesCpuAndReportsCyclesPerToken) {
  const std::string base = "generate --model " + model() + " --prompt-ids 510,300,301 --max-new-tokens 8 --ignore-eos";
  CliRun r = run(base + " --mesh 4x3 --json " + (dir() / "w.json").string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("cycles per decode token"), std::string::npos) << r.out;
  ASSERT_EQ(run(base + " --device cpu --json " + (dir() / "c.json").string()).status, 0);
  const auto w = read_json(dir() / "w.json"), c = read_json(dir() / "c.json");
  EXPECT_EQ(w["tokens"], c["tokens"]);
  EXPECT_EQ(w["device"], "wafer");
  EXPECT_EQ(w["mesh"], nlohmann::json({4, 3}));
  EXPECT_EQ(w["clock_hz"].get<double>(), 1.1e9);
  EXPECT_GT(w["decode_cycles_per_token"].get<int64_t>(), 1000);
  EXPECT_NEAR(w["tpot_us"].get<double>(), w["decode_cycles_per_token"].get<double>() / 1100.0, 1e-9);
  EXPECT_GT(w["prefill_cycles"].get<int64_t>(), 0);
  EXPECT_LE(w["sram_bytes_per_pe_max"].get<int64_t>(), 49152);
  EXPECT_GT(w["colors_per_pe_max"].get<int>(), 0);
  EXPECT_TRUE(c["simulated_cycles"].is_null());
  EXPECT_GT(w["compute_utilisation"].get<double>(), 0.0);
  EXPECT_LT(w["compute_utilisation"].get<double>(), 1.0);
  EXPECT_NEAR(w["energy_per_token_j"].get<double>(), 15000.0 * w["tpot_us"].get<double>() * 1e-6, 1e-12);
  // The per-kernel split covers the step: from the bottom row's first operation to its last collective.
  int64_t by_kernel = 0;
  for (const auto& [name, cycles] : w["decode_cycles_by_kernel"].items()) by_kernel += cycles.get<int64_t>();
  EXPECT_EQ(w["decode_cycles_by_kernel"].size(), 13u);
  EXPECT_GT(w["decode_cycles_by_kernel"]["q.k"].get<int64_t>(), 0);
  EXPECT_NEAR(double(by_kernel), w["decode_cycles_per_token"].get<double>(),
              0.05 * w["decode_cycles_per_token"].get<double>());
}

// --timing-only from config.json alone equals the functional run's decode step at the same context (the first
// decode step attends to the 3 prompt tokens + itself) and its second run is read from the cache.
TEST_F(GenerateCli, TimingOnlyMatchesTheFunctionalStepAndIsCachedOnTheSecondRun) {
  CliRun r = run("generate --model " + model() + " --prompt-ids 510,300,301 --max-new-tokens 2 --ignore-eos --mesh 4x3 --json " +
                 (dir() / "w.json").string());
  ASSERT_EQ(r.status, 0) << r.out;
  fs::create_directories(dir() / "config_only");
  fs::copy_file(dir() / "tiny" / "config.json", dir() / "config_only" / "config.json");
  const std::string timing = "WAFERSIM_CACHE_DIR=" + (dir() / "cache").string() + " " + exe().string() +
                             " generate --model " + (dir() / "config_only").string() +
                             " --timing-only --context 3 --max-new-tokens 1 --mesh 4x3 --json ";
  r = wafersim::test::run_cli(timing + (dir() / "t1.json").string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("1 unit simulations, 0 cached"), std::string::npos) << r.out;
  r = wafersim::test::run_cli(timing + (dir() / "t2.json").string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("0 unit simulations, 1 cached"), std::string::npos) << r.out;
  const auto w = read_json(dir() / "w.json"), t1 = read_json(dir() / "t1.json"), t2 = read_json(dir() / "t2.json");
  const double functional = w["decode_cycles_per_token"].get<double>();
  EXPECT_NEAR(t1["decode_cycles_per_token"].get<double>(), functional, 0.01 * functional);
  EXPECT_EQ(t2["decode_cycles_per_token"], t1["decode_cycles_per_token"]);
  EXPECT_EQ(t1["stages"], 1);
  EXPECT_EQ(t1["timing_only"], true);
  // --context belongs to --timing-only.
  EXPECT_NE(run("generate --model " + model() + " --prompt-ids 510 --context 4").status, 0);
}

TEST_F(GenerateCli, PromptIdsAndSeededSamplingRepeat) {
  const std::string base = "generate --model " + model() +
                           " --prompt-ids 510,300,301 --max-new-tokens 10 --ignore-eos --temperature 1.5 --top-k 40 "
                           "--top-p 0.95 --json ";
  ASSERT_EQ(run(base + (dir() / "a.json").string() + " --seed 7").status, 0);
  ASSERT_EQ(run(base + (dir() / "b.json").string() + " --seed 7").status, 0);
  ASSERT_EQ(run(base + (dir() / "c.json").string() + " --seed 8").status, 0);
  const auto a = read_json(dir() / "a.json"), b = read_json(dir() / "b.json"), c = read_json(dir() / "c.json");
  EXPECT_EQ(a["prompt_tokens"], nlohmann::json({510, 300, 301}));
  EXPECT_EQ(a["tokens"].size(), 10u);
  EXPECT_EQ(a["tokens"], b["tokens"]);
  EXPECT_NE(a["tokens"], c["tokens"]);
  EXPECT_EQ(a["sampling"]["top_k"], 40);
}

TEST_F(GenerateCli, StopsAtTheConfigsEosToken) {
  const std::string args = " --prompt-ids 510,65,66 --max-new-tokens 12 --json ";
  CliRun r = run("generate --model " + model() + args + (dir() / "free.json").string() + " --ignore-eos");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto free_run = read_json(dir() / "free.json")["tokens"].get<std::vector<int32_t>>();
  ASSERT_EQ(free_run.size(), 12u);
  // Declare the 4th generated token the end of sequence: generation must stop at its first occurrence.
  const int32_t eos = free_run[3];
  const auto first = std::find(free_run.begin(), free_run.end(), eos) - free_run.begin();
  auto config = read_json(dir() / "tiny" / "config.json");
  config["eos_token_id"] = {eos, 511};
  std::ofstream(dir() / "tiny" / "config.json") << config.dump(2);
  r = run("generate --model " + model() + args + (dir() / "eos.json").string());
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = read_json(dir() / "eos.json");
  EXPECT_TRUE(j["stopped_at_eos"].get<bool>());
  EXPECT_EQ(j["tokens"].get<std::vector<int32_t>>(),
            std::vector<int32_t>(free_run.begin(), free_run.begin() + first + 1));
}

TEST_F(GenerateCli, ErrorsAreClearAndLeaveNoJson) {
  const fs::path json = dir() / "never.json";
  CliRun r = run("generate --model " + model() + " --prompt hi --device gpu --json " + json.string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("\"gpu\" is not a device"), std::string::npos) << r.out;
  r = run("generate --model " + model() + " --prompt hi --mesh 1x1 --json " + json.string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("45056-byte limit"), std::string::npos) << r.out;
  r = run("generate --model " + model() + " --prompt hi --accum fp8 --json " + json.string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("--accum"), std::string::npos) << r.out;
  r = run("generate --model " + (dir() / "nothing").string() + " --prompt hi --json " + json.string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find((dir() / "nothing").string()), std::string::npos) << r.out;
  r = run("generate --model " + model() + " --prompt-ids 1,x --json " + json.string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("\"x\" is not a non-negative integer"), std::string::npos) << r.out;
  r = run("generate --model " + model() + " --prompt-ids 1,512");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("outside the vocabulary [0, 512)"), std::string::npos) << r.out;
  r = run("generate --model " + model() + " --prompt hi --prompt-ids 1");
  EXPECT_EQ(r.status, 2);
  r = run("generate --model " + model() + " --prompt-ids 1 --max-new-tokens 600");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("exceeds max_position_embeddings=512"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(json));

  // A corrupt checkpoint names the file.
  const fs::path weights = dir() / "tiny" / "model.safetensors";
  fs::resize_file(weights, fs::file_size(weights) - 1000);
  r = run("generate --model " + model() + " --prompt-ids 1");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find(weights.string() + ": tensor 'lm_head.weight': data_offsets"), std::string::npos) << r.out;
}

TEST_F(GenerateCli, MakeModelRefusesToOverwriteWithoutForce) {
  CliRun r = run("make-model --preset tiny --seed 3 --out " + model());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("--force"), std::string::npos) << r.out;
  r = run("make-model --preset tiny --seed 3 --force --out " + model());
  EXPECT_EQ(r.status, 0) << r.out;
  r = run("make-model --preset galactic --out " + (dir() / "g").string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("known: tiny, small, 100m"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir() / "g"));
}

}  // namespace
}  // namespace wafersim::models
