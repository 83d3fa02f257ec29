// `wafersim tokenize` and `wafersim detokenize`: a tokenizer.json applied to text or to IDs.
#include <charconv>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/atomic_file.hpp"
#include "models/tokenizer.hpp"
#include "runtime/cli/command.hpp"
#include "runtime/cli/options.hpp"

namespace wafersim::cli {
namespace {

std::string join_ids(const std::vector<int32_t>& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  return out;
}

// The --tokenizer file, checked to be a file first (a directory gave the JSON library's raw message).
models::Tokenizer load_tokenizer(const std::string& path) {
  require_file("--tokenizer", path, "a Hugging Face tokenizer.json file");
  return models::Tokenizer::load(path);
}

int run_tokenize(int argc, char** argv) {
  po::options_description desc("options");
  desc.add_options()("tokenizer", po::value<std::string>()->required(), "Hugging Face tokenizer.json")(
      "text", po::value<std::string>()->required(), "text to encode (UTF-8)")(
      "no-special-tokens", po::bool_switch(), "do not let the post-processor add special tokens (e.g. BOS)")(
      "json", po::value<std::string>(), "also write {\"ids\": [...]} to this file (- for stdout)");
  po::variables_map vm;
  if (!parse_options(argc, argv, desc, vm, "--tokenizer FILE --text STR [--json FILE]")) return 0;
  const std::string json_path = vm.count("json") ? vm["json"].as<std::string>() : "";
  if (!json_path.empty()) check_output_path(json_path, "--json");
  const auto tokenizer = load_tokenizer(vm["tokenizer"].as<std::string>());
  const std::string text = vm["text"].as<std::string>();
  const bool add_special = !vm["no-special-tokens"].as<bool>();
  std::vector<int32_t> ids;
  try {
    ids = tokenizer.encode(text, add_special);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--text: ") + e.what());
  }
  text_stream(json_path) << join_ids(ids) << "\n";
  if (!json_path.empty()) {
    nlohmann::json out = {{"ids", ids},
                          {"text", text},
                          {"tokenizer", vm["tokenizer"].as<std::string>()},
                          {"add_special_tokens", add_special}};
    write_file_atomically(json_path, [&](std::ostream& os) { os << out.dump(2) << "\n"; });
  }
  return 0;
}

int run_detokenize(int argc, char** argv) {
  po::options_description desc("options");
  desc.add_options()("tokenizer", po::value<std::string>()->required(), "Hugging Face tokenizer.json")(
      "ids", po::value<std::string>()->required(), "comma-separated token IDs, e.g. 128000,9906,1917")(
      "skip-special-tokens", po::bool_switch(), "leave special tokens (BOS, EOS, ...) out of the text");
  po::variables_map vm;
  if (!parse_options(argc, argv, desc, vm, "--tokenizer FILE --ids 1,2,3")) return 0;
  const auto tokenizer = load_tokenizer(vm["tokenizer"].as<std::string>());
  const std::vector<int> list = parse_int_list(vm["ids"].as<std::string>(), "--ids", /*allow_empty=*/true);
  const std::vector<int32_t> ids(list.begin(), list.end());
  for (int32_t id : ids)
    if (!tokenizer.id_to_token(id))
      throw UsageError("--ids: " + std::to_string(id) + " is not a token of this tokenizer (vocabulary size " +
                       std::to_string(tokenizer.vocab_size()) + ")");
  std::cout << tokenizer.decode(ids, vm["skip-special-tokens"].as<bool>()) << "\n";
  return 0;
}

CommandRegistration tokenize_reg("tokenize", "encode text into token IDs with a tokenizer.json", run_tokenize);
CommandRegistration detokenize_reg("detokenize", "decode token IDs into text with a tokenizer.json", run_detokenize);

}  // namespace
}  // namespace wafersim::cli
