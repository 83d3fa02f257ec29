// Seeded generator of small LLaMA checkpoints in exactly the Hugging Face layout (config.json, model.safetensors
// with HF names in fp16, tokenizer.json): presets `tiny`, `small`, `100m`. Weights are random (no training) but
// scaled so that logits are spread out and greedy decoding does not lock onto one token. Same seed, same bytes.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "models/llama_config.hpp"
#include "models/llama_weights.hpp"

namespace wafersim::models {

struct ModelPreset {
  std::string name;
  std::string summary;
  LlamaConfig config;  // bos/eos ids are those of build_small_tokenizer_json(config.vocab_size)
};

const std::vector<ModelPreset>& model_presets();
// Throws std::invalid_argument naming the known presets.
const ModelPreset& find_model_preset(const std::string& name);

// The values of one tensor of `config` for `seed`, already rounded to fp16 (what the file stores). Each tensor
// has its own random stream derived from (seed, name), so values do not depend on the order of generation.
std::vector<float> generate_tensor(const ExpectedTensor& tensor, const LlamaConfig& config, uint64_t seed);

// The whole model in memory: equal, tensor for tensor, to what write_model_directory stores (for tests).
LlamaWeights generate_llama_weights(const LlamaConfig& config, uint64_t seed);

// Writes config.json, model.safetensors (F16) and tokenizer.json into `out`, atomically: everything is written to
// a temporary directory beside `out` and renamed into place, so `out` is either complete or untouched (an interrupt
// removes the temporary). An existing non-empty `out` is replaced only if `replace` is set and it holds a model
// (config.json and *.safetensors); never the working directory or one containing it (std::runtime_error naming
// `out` and what it holds otherwise). A symbolic link `out` stays a link; the directory it names is replaced.
void write_model_directory(const LlamaConfig& config, uint64_t seed, const std::string& tokenizer_json,
                           const std::filesystem::path& out, bool replace = false);

// make-model: the preset's config, its tokenizer, written with write_model_directory.
void make_model(const std::string& preset, uint64_t seed, const std::filesystem::path& out, bool replace = false);

}  // namespace wafersim::models
