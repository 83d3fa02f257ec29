// Names of the WaferLLM paper's models for `--model`: llama3-8b, llama2-13b, codellama-34b, qwen2-72b resolve to
// their public Hugging Face configs in the repository's configs/models/ (config.json only, no weights: enough for
// the planner, kv-capacity and timing-only runs). Anything else is taken as a model directory.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace wafersim::models {

struct ModelName {
  const char* name;       // "llama3-8b"
  const char* directory;  // "Meta-Llama-3-8B" (under configs/models/)
};
// The paper's four models, in the paper's order.
const std::vector<ModelName>& paper_model_names();

// `arg` as given to --model: a paper model name (case-insensitive) -> `models_dir`/<directory>; else an existing
// directory. Throws ConfigError "--model ARG: ..." naming the known names when it is neither.
std::filesystem::path resolve_model(const std::string& arg, const std::filesystem::path& models_dir);

}  // namespace wafersim::models
