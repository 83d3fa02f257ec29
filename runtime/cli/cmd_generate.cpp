// `wafersim generate`: prefill a prompt and decode tokens on a device (today: the fp32 CPU reference), streaming
// the text as it is produced; optionally a JSON result with the tokens, timing, peak RSS and git revision.
#include <charconv>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include "common/atomic_file.hpp"
#include "common/error.hpp"
#include "models/cpu_reference.hpp"
#include "models/generator.hpp"
#include "models/llama_weights.hpp"
#include "models/tokenizer.hpp"
#include "runtime/cli/command.hpp"
#include "runtime/cli/options.hpp"
#include "runtime/sim_options.hpp"
#include "runtime/version.hpp"

namespace wafersim::cli {
namespace {

using Clock = std::chrono::steady_clock;



int run_generate(int argc, char** argv) {
  po::options_description desc("options");
  desc.add_options()("model", po::value<std::string>()->required(),
                     "Hugging Face model directory (config.json, model.safetensors or index + shards, tokenizer.json), or a paper model name (llama3-8b, llama2-13b, codellama-34b, qwen2-72b: configs/models/, config only)")
      ("prompt", po::value<std::string>(), "prompt text (encoded with the model's tokenizer.json, BOS added)")
      ("prompt-ids", po::value<std::string>(), "prompt as comma-separated token IDs instead of --prompt")
      ("max-new-tokens", number<int64_t>(0)->default_value(32), "tokens to generate at most")
      ("device", po::value<std::string>()->default_value("cpu"), "cpu (fp32 reference) or wafer (not implemented yet)")
      ("json", po::value<std::string>(), "write the result (tokens, text, timing, peak RSS, git revision) here (- for stdout)")
      ("seed", number<uint64_t>(0)->default_value(0), "sampling seed")
      ("temperature", number(0.0)->default_value(0.0), "0 = greedy; > 0 samples")
      ("top-k", number<int64_t>(0)->default_value(0), "sample among the K most likely tokens (0 = all)")
      ("top-p", number(0.0, 1.0)->above()->default_value(1.0), "sample from the smallest set with probability >= P, (0, 1]")
      ("ignore-eos", po::bool_switch(), "do not stop at eos_token_id (for benchmarks)")
      ("threads", number(0, 4096)->default_value(0),
       "CPU threads; 0 = decode on 1 or all cores (OMP_NUM_THREADS), whichever times faster");
  po::variables_map vm;
  if (!parse_options(argc, argv, desc, vm,
                     "--model DIR (--prompt TEXT | --prompt-ids 1,2,3) [--max-new-tokens N] [--device cpu] "
                     "[--json FILE] [--seed S --temperature T --top-k K --top-p P]"))
    return 0;
  const std::string json_path = vm.count("json") ? vm["json"].as<std::string>() : "";
  if (!json_path.empty()) check_output_path(json_path, "--json");

  const std::string device = vm["device"].as<std::string>();
  if (device == "wafer")
    throw std::runtime_error("--device wafer is not implemented yet (the on-wafer LLaMA runtime comes in a later "
                             "issue); use --device cpu");
  if (device != "cpu") throw UsageError("--device: \"" + device + "\" is not a device (expected cpu or wafer)");
  if (vm.count("prompt") == vm.count("prompt-ids")) throw UsageError("give exactly one of --prompt and --prompt-ids");
  const int64_t max_new = vm["max-new-tokens"].as<int64_t>();
  models::GenerationOptions options;
  options.max_new_tokens = max_new;
  options.sampling = {vm["temperature"].as<double>(), vm["top-k"].as<int64_t>(), vm["top-p"].as<double>(),
                      vm["seed"].as<uint64_t>()};
  try {
    models::Sampler check(options.sampling);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }

  const int threads = vm["threads"].as<int>();

  const auto start = Clock::now();
  const std::filesystem::path dir = runtime::model_dir_path(vm["model"].as<std::string>());
  auto weights = std::make_shared<const models::LlamaWeights>(models::load_llama_model(dir));
  const models::LlamaConfig& config = weights->config;
  std::optional<models::Tokenizer> tokenizer;
  if (std::filesystem::exists(dir / "tokenizer.json")) {
    require_file("--model", (dir / "tokenizer.json").string(), "a tokenizer.json file");
    tokenizer = models::Tokenizer::load(dir / "tokenizer.json");
  }

  std::vector<int32_t> prompt;
  if (vm.count("prompt")) {
    if (!tokenizer) throw ConfigError((dir / "tokenizer.json").string() + ": missing (needed to encode --prompt)");
    try {
      prompt = tokenizer->encode(vm["prompt"].as<std::string>());
    } catch (const std::invalid_argument& e) {
      throw UsageError(std::string("--prompt: ") + e.what());
    }
    if (prompt.empty()) throw UsageError("--prompt: encodes to no tokens");
  } else {
    const std::vector<int> ids = parse_int_list(vm["prompt-ids"].as<std::string>(), "--prompt-ids");
    prompt.assign(ids.begin(), ids.end());
  }
  for (int32_t id : prompt)
    if (id < 0 || id >= config.vocab_size)
      throw UsageError("prompt token " + std::to_string(id) + " is outside the vocabulary [0, " +
                       std::to_string(config.vocab_size) + ")");
  if (static_cast<int64_t>(prompt.size()) + max_new > config.max_position_embeddings)
    throw UsageError("prompt (" + std::to_string(prompt.size()) + " tokens) + --max-new-tokens " +
                     std::to_string(max_new) + " exceeds max_position_embeddings=" +
                     std::to_string(config.max_position_embeddings));
  if (!vm["ignore-eos"].as<bool>()) options.stop_tokens = config.eos_token_ids;
  const double load_seconds = std::chrono::duration<double>(Clock::now() - start).count();

  models::CpuReference backend(weights, threads);
  models::Detokenizer detokenize;
  if (tokenizer) detokenize = [&](const std::vector<int32_t>& ids) { return tokenizer->decode(ids, true); };
  models::Generator generator(backend, detokenize);
  bool first = true;
  std::ostream& out = text_stream(json_path);  // stderr when the JSON goes to stdout
  const auto result = generator.run(prompt, options, [&](int32_t id, std::string_view text) {
    if (tokenizer) out << text;
    else out << (first ? "" : " ") << id;
    first = false;
    out.flush();
  });
  out << "\n";
  const double host_seconds = result.prefill_seconds + result.decode_seconds;
  const int64_t rss = static_cast<int64_t>(runtime::peak_rss_bytes());
  std::cerr << "[" << backend.describe() << "] prompt " << prompt.size() << " tokens, prefill "
            << result.prefill_seconds << " s; " << result.tokens.size() << " new tokens, " << result.decode_steps
            << " decode steps in " << result.decode_seconds << " s = " << result.decode_tokens_per_second()
            << " tokens/s" << (result.stopped_at_eos ? "; stopped at EOS" : "") << "; load " << load_seconds
            << " s; peak RSS " << rss / (1024 * 1024) << " MiB\n";

  if (vm.count("json")) {
    nlohmann::json out = runtime::result_envelope(command_line(argc, argv), host_seconds);
    out.update({
        {"model", dir.string()},
        {"device", device},
        {"backend", backend.describe()},
        {"prompt_tokens", result.prompt_tokens},
        {"tokens", result.tokens},
        {"text", result.text},
        {"stopped_at_eos", result.stopped_at_eos},
        {"max_new_tokens", max_new},
        {"sampling",
         {{"seed", options.sampling.seed},
          {"temperature", options.sampling.temperature},
          {"top_k", options.sampling.top_k},
          {"top_p", options.sampling.top_p}}},
        {"load_seconds", load_seconds},
        {"prefill_seconds", result.prefill_seconds},
        {"decode_seconds", result.decode_seconds},
        {"decode_steps", result.decode_steps},
        {"tokens_per_second", result.decode_tokens_per_second()},
        {"simulated_cycles", nullptr},  // the CPU reference simulates no hardware
        {"config", models::to_hf_json(config)},
    });
    runtime::write_json(json_path, out);
  }
  return 0;
}

CommandRegistration reg("generate", "generate text with a LLaMA model (CPU reference; wafer later)", run_generate);

}  // namespace
}  // namespace wafersim::cli
