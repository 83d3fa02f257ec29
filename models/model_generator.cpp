#include "models/model_generator.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <system_error>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/atomic_file.hpp"
#include "common/fp16.hpp"
#include "models/safetensors_writer.hpp"
#include "models/sampler.hpp"
#include "models/tokenizer_builder.hpp"

namespace wafersim::models {

namespace {

LlamaConfig base_config(int64_t vocab, int64_t hidden, int64_t inter, int64_t layers, int64_t heads, int64_t kv_heads,
                        int64_t max_positions, double rope_theta) {
  LlamaConfig c;
  c.model_type = "llama";
  c.architectures = {"LlamaForCausalLM"};
  c.vocab_size = vocab;
  c.hidden_size = hidden;
  c.intermediate_size = inter;
  c.num_hidden_layers = layers;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv_heads;
  c.head_dim = hidden / heads;
  c.max_position_embeddings = max_positions;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = rope_theta;
  c.tie_word_embeddings = false;
  // build_small_tokenizer_json puts <|begin_of_text|>, <|end_of_text|> at the last two ids.
  c.bos_token_id = static_cast<int32_t>(vocab - 2);
  c.eos_token_ids = {static_cast<int32_t>(vocab - 1)};
  c.torch_dtype = "float16";
  return c;
}

std::vector<ModelPreset> build_presets() {
  std::vector<ModelPreset> p;
  p.push_back({"tiny", "2 layers, dim 64, 4 heads / 2 KV heads, vocab 512 (LLaMA-2 style RoPE, theta 1e4)",
               base_config(512, 64, 192, 2, 4, 2, 512, 10000.0)});
  ModelPreset small{"small",
                    "4 layers, dim 256, 8 heads / 2 KV heads, vocab 2048 (LLaMA-3.1 style: theta 5e5, llama3 rope scaling)",
                    base_config(2048, 256, 768, 4, 8, 2, 2048, 500000.0)};
  small.config.rope_scaling = RopeScaling{"llama3", 8.0, 1.0, 4.0, 256};
  p.push_back(small);
  p.push_back({"100m", "8 layers, dim 1024, 16 heads / 4 KV heads, intermediate 2816, vocab 8192 (~107M parameters)",
               base_config(8192, 1024, 2816, 8, 16, 4, 2048, 500000.0)});
  return p;
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char ch : s) h = (h ^ ch) * 0x100000001b3ull;
  return h;
}

// Standard deviation (of a uniform distribution) per tensor kind; norm weights are 1 +- 0.1 instead.
// Projections keep activations O(1) (1/sqrt(fan_in)); the lm_head scale gives logits a spread of a few units,
// peaked enough for sampling to matter, flat enough that greedy decoding keeps following the context.
double weight_std(const std::string& name, const LlamaConfig& c) {
  const auto ends = [&](const char* suffix) { return name.ends_with(suffix); };
  const double hidden = static_cast<double>(c.hidden_size);
  if (ends("embed_tokens.weight")) return 1.0;
  if (ends("lm_head.weight")) return 3.0 / std::sqrt(hidden);
  if (ends("proj.bias")) return 0.1;
  if (ends("o_proj.weight")) return 1.0 / std::sqrt(static_cast<double>(c.q_dim()));
  if (ends("down_proj.weight")) return 1.0 / std::sqrt(static_cast<double>(c.intermediate_size));
  return 1.0 / std::sqrt(hidden);  // q/k/v, gate, up
}

// Random weights make next-token prediction mostly a random function of the current token, whose fixed points
// (t -> t) trap greedy decoding for good. A trained model learns not to repeat itself; we approximate that by
// tilting lm_head row t away from token t's embedding, which lowers the current token's logit by about
// kSelfPenalty * cos(final state, its embedding). Measured on 90 tiny-preset runs of 32 greedy steps: runs stuck
// on one token dropped from 9 to 0 (see docs/models.md).
constexpr double kSelfPenalty = 6.0;

void subtract_self_prediction(std::vector<float>& lm_head, const LlamaConfig& config, uint64_t seed) {
  const ExpectedTensor embed_tensor = expected_tensors(config).front();
  const std::vector<float> embed = generate_tensor(embed_tensor, config, seed);
  const int64_t h = config.hidden_size;
  for (int64_t t = 0; t < config.vocab_size; ++t) {
    const float* e = embed.data() + t * h;
    double norm_sq = 0.0;
    for (int64_t i = 0; i < h; ++i) norm_sq += static_cast<double>(e[i]) * e[i];
    const double k = kSelfPenalty / std::sqrt(static_cast<double>(h) * norm_sq);
    for (int64_t i = 0; i < h; ++i) lm_head[static_cast<size_t>(t * h + i)] -= static_cast<float>(k * e[i]);
  }
}

}  // namespace

const std::vector<ModelPreset>& model_presets() {
  static const std::vector<ModelPreset> presets = build_presets();
  return presets;
}

const ModelPreset& find_model_preset(const std::string& name) {
  std::string known;
  for (const auto& p : model_presets()) {
    if (p.name == name) return p;
    known += (known.empty() ? "" : ", ") + p.name;
  }
  throw std::invalid_argument("unknown preset '" + name + "' (known: " + known + ")");
}

std::vector<float> generate_tensor(const ExpectedTensor& tensor, const LlamaConfig& config, uint64_t seed) {
  size_t numel = 1;
  for (auto d : tensor.shape) numel *= static_cast<size_t>(d);
  Rng rng(seed ^ fnv1a(tensor.name));
  std::vector<float> values(numel);
  const bool norm = tensor.name.ends_with("norm.weight");
  // Uniform on [-a, a) with a = sqrt(3) * std: only multiplications, so every host produces the same bits.
  const double a = std::sqrt(3.0) * weight_std(tensor.name, config);
  for (auto& v : values) {
    const double u = 2.0 * rng.uniform() - 1.0;
    v = static_cast<float>(norm ? 1.0 + 0.1 * u : a * u);
  }
  if (tensor.name == "lm_head.weight" && !config.tie_word_embeddings) subtract_self_prediction(values, config, seed);
  for (auto& v : values) v = f16_bits_to_f32(f32_to_f16_bits(v));
  return values;
}

LlamaWeights generate_llama_weights(const LlamaConfig& config, uint64_t seed) {
  return assemble_llama_weights(
      config, [&](const ExpectedTensor& e) { return FloatTensor(e.shape, generate_tensor(e, config, seed)); });
}

namespace {

// Why --force may not replace the existing directory `dir` (named `out` by the user), or "" if it may: only an empty
// directory or one that holds a model (config.json and *.safetensors), and never one the process works in.
std::string replace_refusal(const std::filesystem::path& out, const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  bool config = false, weights = false;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    config = config || name == "config.json";
    weights = weights || e.path().extension() == ".safetensors";
    names.push_back(name);
  }
  if (!names.empty() && !(config && weights)) {
    std::sort(names.begin(), names.end());
    std::string list;
    for (std::size_t i = 0; i < names.size() && i < 5; ++i) list += (i ? ", " : "") + names[i];
    if (names.size() > 5) list += ", ... (" + std::to_string(names.size()) + " entries)";
    return out.string() + ": --force replaces only an empty directory or a model directory (config.json and "
           "*.safetensors), and this one holds " + list;
  }
  // Renaming it would pull the directory from under the working process (and the shell that started it).
  std::error_code ec;
  const fs::path cwd = fs::current_path(ec), real = fs::canonical(dir, ec);
  if (!cwd.empty() && !real.empty()) {
    const fs::path rel = cwd.lexically_relative(real);
    if (!rel.empty() && *rel.begin() != "..")
      return out.string() + ": is the working directory or contains it; give --out a new or model directory";
  }
  return "";
}

}  // namespace

void write_model_directory(const LlamaConfig& config, uint64_t seed, const std::string& tokenizer_json,
                           const std::filesystem::path& out, bool replace) {
  namespace fs = std::filesystem;
  fs::path target = fs::absolute(out).lexically_normal();
  if (target.filename().empty()) target = target.parent_path();  // "dir/" names dir
  std::error_code ec;
  // A symbolic link stays one: the directory it names is replaced.
  if (fs::is_symlink(fs::symlink_status(target, ec))) target = fs::weakly_canonical(target);
  const fs::path parent = target.parent_path();
  const std::string base = target.filename().string();
  if (base.empty() || base == "..") throw std::runtime_error(out.string() + ": not a directory name");
  const bool exists = fs::exists(target);
  if (exists && !fs::is_directory(target)) throw std::runtime_error(out.string() + ": exists and is not a directory");
  if (exists) {
    if (!fs::is_empty(target) && !replace)
      throw std::runtime_error(out.string() + ": directory exists and is not empty (pass --force to replace it)");
    if (const std::string why = replace_refusal(out, target); !why.empty()) throw std::runtime_error(why);
  }

  fs::create_directories(parent, ec);
  if (ec) throw std::runtime_error(out.string() + ": cannot create directory " + parent.string() + " (" + ec.message() + ")");
  const fs::path tmp = parent / (base + ".tmp." + std::to_string(::getpid()));
  const char* files[] = {"config.json", "tokenizer.json", "model.safetensors"};
  // Listed before they exist, so that an interrupt at any point removes the files, then the directory.
  InterruptCleanup tmp_listed(tmp, /*directory=*/true);
  std::vector<std::unique_ptr<InterruptCleanup>> files_listed;
  for (const char* f : files) files_listed.push_back(std::make_unique<InterruptCleanup>(tmp / f));
  fs::remove_all(tmp, ec);
  if (!fs::create_directory(tmp, ec))
    throw std::runtime_error(out.string() + ": cannot create " + tmp.string() + " (" +
                             (ec ? ec.message() : std::string("it exists")) + ")");
  try {
    auto write = [&](const char* name, const std::function<void(std::ostream&)>& body, bool binary) {
      std::ofstream f(tmp / name, binary ? std::ios::binary | std::ios::trunc : std::ios::trunc);
      if (!f) throw std::runtime_error((target / name).string() + ": cannot open for writing");
      body(f);
      f.flush();
      if (!f) throw std::runtime_error((target / name).string() + ": write failed");
    };
    write(files[0], [&](std::ostream& o) { o << to_hf_json(config).dump(2) << "\n"; }, false);
    write(files[1], [&](std::ostream& o) { o << tokenizer_json; }, false);
    write(files[2], [&](std::ostream& o) {
      std::vector<TensorToWrite> tensors;
      for (const auto& e : expected_tensors(config))
        tensors.push_back({e.name, DType::F16, e.shape,
                           [e, &config, seed] { return encode_floats(generate_tensor(e, config, seed), DType::F16); }});
      write_safetensors(o, tensors, {{"format", "pt"}, {"generator", "wafersim make-model"},
                                     {"seed", std::to_string(seed)}});
    }, true);
    // Swap into place: an old directory is moved aside first and removed only once the new one is in. An
    // interrupt waits until the swap is over.
    InterruptsDeferred swapping;
    auto fail = [&](const std::string& what) {
      return std::runtime_error(out.string() + ": cannot " + what + " (" + ec.message() + ")");
    };
    if (exists) {
      const fs::path old = parent / (base + ".old." + std::to_string(::getpid()));
      fs::remove_all(old, ec);
      fs::rename(target, old, ec);
      if (ec) throw fail("move the old directory aside to " + old.string());
      fs::rename(tmp, target, ec);
      if (ec) {
        const auto error = fail("rename " + tmp.string() + " onto it");
        fs::rename(old, target, ec);
        throw error;
      }
      fs::remove_all(old, ec);
    } else {
      fs::rename(tmp, target, ec);
      if (ec) throw fail("rename " + tmp.string() + " onto it");
    }
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

void make_model(const std::string& preset_name, uint64_t seed, const std::filesystem::path& out, bool replace) {
  const ModelPreset& preset = find_model_preset(preset_name);
  const std::string tokenizer = build_small_tokenizer_json(static_cast<int>(preset.config.vocab_size));
  // The config's bos/eos must be the tokenizer's special tokens.
  const auto doc = nlohmann::json::parse(tokenizer);
  std::map<std::string, int64_t> special;
  for (const auto& t : doc.at("added_tokens")) special[t.at("content").get<std::string>()] = t.at("id").get<int64_t>();
  if (special["<|begin_of_text|>"] != *preset.config.bos_token_id ||
      special["<|end_of_text|>"] != preset.config.eos_token_ids.at(0))
    throw std::logic_error("preset " + preset.name + ": tokenizer special-token ids differ from config bos/eos");
  write_model_directory(preset.config, seed, tokenizer, out, replace);
}

}  // namespace wafersim::models
