// `wafersim plan` and `wafersim kv-capacity` end to end: the paper's models by name, JSON keys documented in
// docs/results.md, the numbers agree with the library, and bad input fails with a clear message.
#include "sc_tests/cli_run.hpp"
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

namespace wafersim {
namespace {

namespace fs = std::filesystem;

class PlanCli : public test::CliTest {
 protected:
  nlohmann::json read_json(const fs::path& p) const {
    std::ifstream in(p);
    return nlohmann::json::parse(in);
  }
  static std::string results_doc() {
    std::ifstream in(fs::path(WAFERSIM_SOURCE_DIR) / "docs/results.md");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
};

TEST_F(PlanCli, DecodeAndPrefillPlansWriteDocumentedJson) {
  const fs::path decode = dir() / "decode.json", prefill = dir() / "prefill.json";
  const auto d = run("plan --model llama3-8b --mesh 360x360 --json " + decode.string());
  ASSERT_EQ(d.status, 0) << d.out;
  EXPECT_NE(d.out.find("4 stage(s)"), std::string::npos) << d.out;
  const auto p = run("plan --model llama3-8b --mesh 720x720 --phase prefill --prompt-len 4096 --json " + prefill.string());
  ASSERT_EQ(p.status, 0) << p.out;
  const std::string doc = results_doc();
  for (const fs::path& f : {decode, prefill}) {
    const nlohmann::json j = read_json(f);
    for (const auto& [key, value] : j.items())
      EXPECT_NE(doc.find("`" + key + "`"), std::string::npos) << f.filename() << ": key " << key << " is not in docs/results.md";
    for (const auto& [key, value] : j["stages"][0].items())
      EXPECT_NE(doc.find("`stages[]." + key + "`"), std::string::npos) << "stages[]." << key << " is not in docs/results.md";
  }
  const nlohmann::json dj = read_json(decode), pj = read_json(prefill);
  EXPECT_EQ(dj["phase"], "decode");
  EXPECT_EQ(dj["stage_count"], 4);
  EXPECT_EQ(dj["dims_padded"]["hidden"], 4320);
  EXPECT_EQ(dj["dims_padded"]["ffn"], 14400);
  EXPECT_EQ(pj["phase"], "prefill");
  EXPECT_EQ(pj["prompt_len"], 4096);
  EXPECT_LE(pj["sram_bytes_per_pe_max"].get<long>(), pj["sram_limit_bytes"].get<long>());
}

TEST_F(PlanCli, KvCapacityShiftIsRowsTimesConcat) {
  const fs::path out = dir() / "kv.json";
  const auto r = run("kv-capacity --model llama3-8b --mesh 360x360 --json " + out.string());
  ASSERT_EQ(r.status, 0) << r.out;
  const nlohmann::json j = read_json(out);
  const std::string doc = results_doc();
  for (const auto& [key, value] : j.items())
    EXPECT_NE(doc.find("`" + key + "`"), std::string::npos) << "kv-capacity: key " << key << " is not in docs/results.md";
  EXPECT_GT(j["concat_max_tokens"].get<long>(), 0);
  EXPECT_EQ(j["shift_max_tokens"].get<long>(), 360 * j["concat_max_tokens"].get<long>());
  EXPECT_DOUBLE_EQ(j["shift_over_concat"].get<double>(), 360.0);
  // Half the layers need half the regions (the fewest stages that hold them; a stage holds at most 10 layers).
  const fs::path half = dir() / "half.json";
  ASSERT_EQ(run("kv-capacity --model llama3-8b --mesh 360x360 --layers 16 --json " + half.string()).status, 0);
  const nlohmann::json h = read_json(half);
  EXPECT_EQ(h["layers"], 16);
  EXPECT_EQ(h["stages"], 2);
  EXPECT_EQ(h["shift_max_tokens"].get<long>(), 360 * h["concat_max_tokens"].get<long>());
}

TEST_F(PlanCli, BadInputFailsClearly) {
  const auto unknown = run("plan --model llama9-1t --mesh 8x8");
  EXPECT_NE(unknown.status, 0);
  EXPECT_NE(unknown.out.find("not a model name"), std::string::npos) << unknown.out;
  const auto big = run("kv-capacity --model llama3-8b --mesh 800x800");
  EXPECT_NE(big.status, 0);
  EXPECT_NE(big.out.find("does not fit the wse2 fabric of 757x996 PEs"), std::string::npos) << big.out;
  const auto fit = run("plan --model qwen2-72b --mesh 360x360");
  EXPECT_NE(fit.status, 0);
  EXPECT_NE(fit.out.find("qwen2-72b does not fit the wse2 fabric (757x996 PEs)"), std::string::npos) << fit.out;
  EXPECT_NE(fit.out.find("bytes of SRAM"), std::string::npos) << fit.out;
  const auto phase = run("plan --model llama3-8b --mesh 360x360 --phase train");
  EXPECT_NE(phase.status, 0);
  EXPECT_NE(phase.out.find("--phase train"), std::string::npos) << phase.out;
  const auto layers = run("plan --model llama3-8b --mesh 360x360 --layers 33");
  EXPECT_NE(layers.status, 0);
  EXPECT_NE(layers.out.find("--layers 33"), std::string::npos) << layers.out;
}

}  // namespace
}  // namespace wafersim
