// `wafersim make-model`: writes a seeded, HF-format LLaMA checkpoint (config.json, model.safetensors, tokenizer.json).
#include <chrono>
#include <iostream>
#include <stdexcept>
#include <string>

#include "models/model_generator.hpp"
#include "runtime/cli/command.hpp"
#include "runtime/cli/options.hpp"

namespace wafersim::cli {
namespace {

int run_make_model(int argc, char** argv) {
  std::string presets;
  for (const auto& p : models::model_presets()) presets += "\n  " + p.name + ": " + p.summary;
  po::options_description desc("options");
  desc.add_options()("preset", po::value<std::string>()->required(), ("model size, one of:" + presets).c_str())
      ("seed", number<uint64_t>(0)->default_value(0), "random seed of the weights (same seed, same bytes)")
      ("out", po::value<std::string>()->required(), "output directory (written atomically)")
      ("force", po::bool_switch(), "replace an existing model directory (config.json and *.safetensors)");
  po::variables_map vm;
  if (!parse_options(argc, argv, desc, vm, "--preset NAME --seed S --out DIR [--force]")) return 0;
  const std::string name = vm["preset"].as<std::string>();
  const models::ModelPreset* preset = nullptr;
  try {
    preset = &models::find_model_preset(name);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--preset: ") + e.what());
  }
  const uint64_t seed = vm["seed"].as<uint64_t>();
  const std::string out = vm["out"].as<std::string>();
  const auto start = std::chrono::steady_clock::now();
  models::make_model(name, seed, out, vm["force"].as<bool>());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "wrote " << out << ": preset " << name << " (" << preset->config.parameter_count()
            << " parameters, fp16, seed " << seed << ") in " << seconds << " s\n";
  return 0;
}

CommandRegistration reg("make-model", "write a seeded small LLaMA checkpoint (config, safetensors, tokenizer)",
                        run_make_model);

}  // namespace
}  // namespace wafersim::cli
