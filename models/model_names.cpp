#include "models/model_names.hpp"

#include <algorithm>
#include <cctype>

#include "common/error.hpp"

namespace wafersim::models {

const std::vector<ModelName>& paper_model_names() {
  static const std::vector<ModelName> names = {{"llama3-8b", "Meta-Llama-3-8B"},
                                               {"llama2-13b", "Llama-2-13b-hf"},
                                               {"codellama-34b", "CodeLlama-34b-hf"},
                                               {"qwen2-72b", "Qwen2-72B"}};
  return names;
}

std::filesystem::path resolve_model(const std::string& arg, const std::filesystem::path& models_dir) {
  std::string lower = arg;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  for (const ModelName& n : paper_model_names())
    if (lower == n.name) {
      const std::filesystem::path dir = models_dir / n.directory;
      if (!std::filesystem::is_regular_file(dir / "config.json"))
        throw ConfigError("--model " + arg + ": " + (dir / "config.json").string() + " is missing");
      return dir;
    }
  if (std::filesystem::is_directory(arg)) return arg;
  std::string names;
  for (const ModelName& n : paper_model_names()) names += (names.empty() ? "" : ", ") + std::string(n.name);
  throw ConfigError("--model " + arg + ": no such directory, and not a model name (names: " + names + ")");
}

}  // namespace wafersim::models
