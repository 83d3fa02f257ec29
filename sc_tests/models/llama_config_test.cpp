// config.json parsing: every public config in configs/models, and the errors a user sees for bad ones.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/error.hpp"
#include "models/llama_config.hpp"
#include "sc_tests/test_dir.hpp"

namespace wafersim::models {
namespace {

const std::filesystem::path kModels = WAFERSIM_SOURCE_DIR "/configs/models";

LlamaConfig load(const char* name) { return load_llama_config(kModels / name / "config.json"); }

std::string error_of(const nlohmann::json& doc) {
  try {
    parse_llama_config(doc, "cfg.json");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

nlohmann::json minimal() {
  return {{"model_type", "llama"}, {"vocab_size", 100},        {"hidden_size", 64},
          {"intermediate_size", 128}, {"num_hidden_layers", 2}, {"num_attention_heads", 4}};
}

TEST(LlamaConfig, ParsesEveryPaperModelConfig) {
  int parsed = 0;
  for (const auto& dir : std::filesystem::directory_iterator(kModels)) {
    if (!std::filesystem::exists(dir.path() / "config.json")) continue;
    SCOPED_TRACE(dir.path().string());
    const LlamaConfig c = load_llama_config(dir.path() / "config.json");
    EXPECT_EQ(c.q_dim(), c.num_attention_heads * c.head_dim);
    EXPECT_EQ(c.num_attention_heads % c.num_key_value_heads, 0);
    EXPECT_FALSE(c.eos_token_ids.empty());
    ++parsed;
  }
  EXPECT_GE(parsed, 5);
}

TEST(LlamaConfig, Llama3_8BHasGqaAndTheta500k) {
  const LlamaConfig c = load("Meta-Llama-3-8B");
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_EQ(c.vocab_size, 128256);
  EXPECT_EQ(c.hidden_size, 4096);
  EXPECT_EQ(c.intermediate_size, 14336);
  EXPECT_EQ(c.num_hidden_layers, 32);
  EXPECT_EQ(c.num_attention_heads, 32);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.kv_group(), 4);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_FALSE(c.rope_scaling.has_value());
  EXPECT_FALSE(c.attention_bias);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.bos_token_id, 128000);
  EXPECT_EQ(c.eos_token_ids, std::vector<int32_t>{128001});
  // The published size of LLaMA-3-8B: 8.03 B parameters.
  EXPECT_NEAR(static_cast<double>(c.parameter_count()), 8.03e9, 0.01e9);
}

TEST(LlamaConfig, Llama31HasLlama3RopeScaling) {
  const LlamaConfig c = load("Llama-3.1-8B");
  ASSERT_TRUE(c.rope_scaling.has_value());
  EXPECT_EQ(c.rope_scaling->type, "llama3");
  EXPECT_DOUBLE_EQ(c.rope_scaling->factor, 8.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling->low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling->high_freq_factor, 4.0);
  EXPECT_EQ(c.rope_scaling->original_max_position_embeddings, 8192);
  EXPECT_EQ(c.max_position_embeddings, 131072);
}

TEST(LlamaConfig, Llama2_13BDefaultsRopeThetaAndHasNoGqa) {
  const LlamaConfig c = load("Llama-2-13b-hf");
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);  // absent from the file: the LLaMA default
  EXPECT_EQ(c.num_key_value_heads, 40);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.vocab_size, 32000);
  EXPECT_NEAR(static_cast<double>(c.parameter_count()), 13.0e9, 0.1e9);
}

TEST(LlamaConfig, CodeLlama34B) {
  const LlamaConfig c = load("CodeLlama-34b-hf");
  EXPECT_EQ(c.num_hidden_layers, 48);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
  EXPECT_EQ(c.max_position_embeddings, 16384);
  EXPECT_NEAR(static_cast<double>(c.parameter_count()), 33.7e9, 0.2e9);
}

TEST(LlamaConfig, Qwen2ImpliesQkvBias) {
  const LlamaConfig c = load("Qwen2-72B");
  EXPECT_EQ(c.model_type, "qwen2");
  EXPECT_TRUE(c.attention_bias);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_EQ(c.num_hidden_layers, 80);
  EXPECT_EQ(c.vocab_size, 152064);
  EXPECT_EQ(c.eos_token_ids, std::vector<int32_t>{151643});
  EXPECT_NEAR(static_cast<double>(c.parameter_count()), 72.7e9, 0.3e9);
}

TEST(LlamaConfig, ModelTypeInferredFromArchitectures) {
  auto doc = minimal();
  doc.erase("model_type");
  doc["architectures"] = {"Qwen2ForCausalLM"};
  const LlamaConfig c = parse_llama_config(doc, "cfg.json");
  EXPECT_EQ(c.model_type, "qwen2");
  EXPECT_TRUE(c.attention_bias);
}

TEST(LlamaConfig, ExplicitHeadDimAndEosList) {
  auto doc = minimal();
  doc["head_dim"] = 32;  // q_dim 128 != hidden 64 is legal when head_dim is given
  doc["num_key_value_heads"] = 2;
  doc["eos_token_id"] = {7, 9};
  doc["tie_word_embeddings"] = true;
  const LlamaConfig c = parse_llama_config(doc, "cfg.json");
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.q_dim(), 128);
  EXPECT_EQ(c.kv_dim(), 64);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int32_t>{7, 9}));
  EXPECT_TRUE(c.tie_word_embeddings);
}

TEST(LlamaConfig, RoundTripsThroughHfJson) {
  const LlamaConfig a = load("Llama-3.1-8B");
  const LlamaConfig b = parse_llama_config(to_hf_json(a), "round-trip");
  EXPECT_EQ(to_hf_json(a), to_hf_json(b));
  EXPECT_EQ(b.rope_scaling->original_max_position_embeddings, 8192);
  EXPECT_EQ(b.parameter_count(), a.parameter_count());
}

TEST(LlamaConfig, ErrorsNameFileFieldAndExpectation) {
  auto doc = minimal();
  doc.erase("hidden_size");
  EXPECT_EQ(error_of(doc), "cfg.json: hidden_size: missing (expected an integer >= 1)");

  doc = minimal();
  doc["num_key_value_heads"] = 3;
  EXPECT_EQ(error_of(doc), "cfg.json: num_key_value_heads: 3 does not divide num_attention_heads 4");

  doc = minimal();
  doc["num_attention_heads"] = 5;
  EXPECT_NE(error_of(doc).find("cfg.json: num_attention_heads: 5 does not divide hidden_size 64"), std::string::npos);

  doc = minimal();
  doc["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  EXPECT_NE(error_of(doc).find("rope_scaling.rope_type: \"yarn\" is not supported"), std::string::npos);

  doc = minimal();
  doc["hidden_act"] = "gelu";
  EXPECT_NE(error_of(doc).find("hidden_act"), std::string::npos);

  doc = minimal();
  doc["vocab_size"] = "many";
  EXPECT_EQ(error_of(doc), "cfg.json: vocab_size: expected an integer, got \"many\"");

  doc = minimal();
  doc["eos_token_id"] = 100;
  EXPECT_NE(error_of(doc).find("eos_token_id: token id 100 outside the vocabulary [0, 100)"), std::string::npos);

  doc = minimal();
  doc["model_type"] = "mixtral";
  EXPECT_NE(error_of(doc).find("model_type: \"mixtral\" is not supported"), std::string::npos);
}

TEST(LlamaConfig, UnreadableFileIsAConfigError) {
  EXPECT_THROW(load_llama_config("/nonexistent/config.json"), ConfigError);
  const wafersim::test::TestDir dir;
  const auto tmp = dir / "config.json";
  { std::ofstream(tmp) << "{ not json"; }
  try {
    load_llama_config(tmp);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(tmp.string() + ": not valid JSON"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace wafersim::models
