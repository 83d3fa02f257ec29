// The architecture of a LLaMA-family model as Hugging Face's config.json describes it (LLaMA-2/3, Llama-3.1
// rope_scaling "llama3", CodeLLaMA, Qwen2 with QKV bias). Only what the forward pass needs is kept; training
// fields are ignored. Not supported: sliding-window attention, MoE, rope_scaling types other than "llama3".
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace wafersim::models {

// rope_scaling {"rope_type": "llama3", ...} from Llama-3.1: long wavelengths are divided by `factor`,
// short ones kept, the band between interpolated.
struct RopeScaling {
  std::string type;                               // "llama3"
  double factor = 8.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct LlamaConfig {
  std::string model_type = "llama";               // "llama" or "qwen2"
  std::vector<std::string> architectures;         // e.g. "LlamaForCausalLM"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;                        // model dimension (embedding width)
  int64_t intermediate_size = 0;                  // SwiGLU width
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;                // == num_attention_heads without GQA
  int64_t head_dim = 0;                           // hidden_size / num_attention_heads unless given
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  std::optional<RopeScaling> rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;                    // q/k/v (not o) projections carry a bias: Qwen2
  std::optional<int32_t> bos_token_id;
  std::vector<int32_t> eos_token_ids;             // eos_token_id may be a number or a list
  std::string torch_dtype = "float32";

  int64_t q_dim() const { return num_attention_heads * head_dim; }
  int64_t kv_dim() const { return num_key_value_heads * head_dim; }
  int64_t kv_group() const { return num_attention_heads / num_key_value_heads; }  // query heads per KV head
  // Number of weights the checkpoint holds (embeddings, lm_head unless tied, norms, biases).
  int64_t parameter_count() const;
};

// Parses and validates a config.json document. `source` names the file in error messages. Throws
// wafersim::ConfigError "<source>: <field>: <what was expected>".
LlamaConfig parse_llama_config(const nlohmann::json& doc, const std::string& source);
LlamaConfig load_llama_config(const std::filesystem::path& config_json);

// The config.json a Hugging Face loader accepts for this configuration (used by the model generator).
nlohmann::json to_hf_json(const LlamaConfig& config);

}  // namespace wafersim::models
