// --model NAME: the paper's four model names resolve to the configs in configs/models/ (case-insensitive), a
// directory passes through, anything else is a ConfigError naming the value and the known names; `generate` takes a
// name too (it then stops at the missing weights of a config-only directory, naming that directory).
#include "sc_tests/cli_run.hpp"
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "common/error.hpp"
#include "models/llama_config.hpp"
#include "models/model_names.hpp"

namespace wafersim::models {
namespace {

namespace fs = std::filesystem;
const fs::path kModels = fs::path(WAFERSIM_SOURCE_DIR) / "configs/models";

TEST(ModelNames, ThePaperModelsResolveToTheirConfigs) {
  struct Expect {
    const char* name;
    int64_t hidden, layers, kv_heads;
  };
  for (const Expect& e : {Expect{"llama3-8b", 4096, 32, 8}, Expect{"llama2-13b", 5120, 40, 40},
                          Expect{"codellama-34b", 8192, 48, 8}, Expect{"qwen2-72b", 8192, 80, 8}}) {
    const fs::path dir = resolve_model(e.name, kModels);
    const LlamaConfig c = load_llama_config(dir / "config.json");
    EXPECT_EQ(c.hidden_size, e.hidden) << e.name;
    EXPECT_EQ(c.num_hidden_layers, e.layers) << e.name;
    EXPECT_EQ(c.num_key_value_heads, e.kv_heads) << e.name;
  }
  EXPECT_EQ(resolve_model("LLaMA3-8B", kModels), kModels / "Meta-Llama-3-8B");
  EXPECT_EQ(paper_model_names().size(), 4u);
}

TEST(ModelNames, ADirectoryPassesThroughAndAnUnknownNameIsAnError) {
  EXPECT_EQ(resolve_model((kModels / "Llama-3.1-8B").string(), kModels), kModels / "Llama-3.1-8B");
  try {
    resolve_model("llama4-400b", kModels);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("--model llama4-400b"), std::string::npos) << m;
    EXPECT_NE(m.find("llama3-8b, llama2-13b, codellama-34b, qwen2-72b"), std::string::npos) << m;
  }
  // A name whose config is missing (another models directory) names the file.
  EXPECT_THROW(resolve_model("qwen2-72b", kModels / "Qwen2-72B"), ConfigError);
}

class ModelNamesCli : public wafersim::test::CliTest {};

TEST_F(ModelNamesCli, GenerateResolvesANameAndRejectsAnUnknownOne) {
  const auto named = run("generate --model codellama-34b --prompt-ids 1 --max-new-tokens 1");
  EXPECT_NE(named.status, 0);
  EXPECT_NE(named.out.find("CodeLlama-34b-hf"), std::string::npos) << named.out;  // got to the config-only directory
  const auto unknown = run("generate --model no-such-model --prompt-ids 1 --max-new-tokens 1");
  EXPECT_NE(unknown.status, 0);
  EXPECT_NE(unknown.out.find("not a model name"), std::string::npos) << unknown.out;
}

}  // namespace
}  // namespace wafersim::models
