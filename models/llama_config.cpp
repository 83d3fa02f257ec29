#include "models/llama_config.hpp"

#include <fstream>
#include <sstream>

#include "common/error.hpp"

namespace wafersim::models {

namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& source, const std::string& field, const std::string& what) {
  throw ConfigError(source + ": " + field + ": " + what);
}

const json* find(const json& doc, const char* key) {
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return nullptr;
  return &*it;
}

int64_t get_int(const json& doc, const char* key, const std::string& source, std::optional<int64_t> fallback,
                int64_t min_value = 1) {
  const json* v = find(doc, key);
  if (!v) {
    if (!fallback) fail(source, key, "missing (expected an integer >= " + std::to_string(min_value) + ")");
    return *fallback;
  }
  int64_t value = 0;
  if (v->is_number_integer()) {
    value = v->get<int64_t>();
  } else if (v->is_number_float() && v->get<double>() == static_cast<double>(static_cast<int64_t>(v->get<double>()))) {
    value = static_cast<int64_t>(v->get<double>());
  } else {
    fail(source, key, "expected an integer, got " + v->dump());
  }
  if (value < min_value) fail(source, key, "expected an integer >= " + std::to_string(min_value) + ", got " + v->dump());
  return value;
}

double get_positive(const json& doc, const char* key, const std::string& source, double fallback) {
  const json* v = find(doc, key);
  if (!v) return fallback;
  if (!v->is_number()) fail(source, key, "expected a number, got " + v->dump());
  double value = v->get<double>();
  if (!(value > 0)) fail(source, key, "expected a positive number, got " + v->dump());
  return value;
}

bool get_bool(const json& doc, const char* key, const std::string& source, bool fallback) {
  const json* v = find(doc, key);
  if (!v) return fallback;
  if (!v->is_boolean()) fail(source, key, "expected true or false, got " + v->dump());
  return v->get<bool>();
}

std::string get_string(const json& doc, const char* key, const std::string& source, const std::string& fallback) {
  const json* v = find(doc, key);
  if (!v) return fallback;
  if (!v->is_string()) fail(source, key, "expected a string, got " + v->dump());
  return v->get<std::string>();
}

int32_t token_id(const json& v, const char* key, const std::string& source, int64_t vocab) {
  if (!v.is_number_integer()) fail(source, key, "expected a token id, got " + v.dump());
  int64_t id = v.get<int64_t>();
  if (id < 0 || id >= vocab)
    fail(source, key, "token id " + std::to_string(id) + " outside the vocabulary [0, " + std::to_string(vocab) + ")");
  return static_cast<int32_t>(id);
}

std::string infer_model_type(const json& doc, const std::string& source) {
  std::string type = get_string(doc, "model_type", source, "");
  if (!type.empty()) return type;
  if (const json* arch = find(doc, "architectures"); arch && arch->is_array()) {
    for (const auto& a : *arch) {
      if (!a.is_string()) continue;
      const auto s = a.get<std::string>();
      if (s.rfind("Qwen2", 0) == 0) return "qwen2";
      if (s.rfind("Llama", 0) == 0) return "llama";
    }
  }
  fail(source, "model_type", "missing, and architectures names no LLaMA or Qwen2 model");
}

std::optional<RopeScaling> parse_rope_scaling(const json& doc, const std::string& source) {
  const json* v = find(doc, "rope_scaling");
  if (!v) return std::nullopt;
  if (!v->is_object()) fail(source, "rope_scaling", "expected an object or null, got " + v->dump());
  std::string type = get_string(*v, "rope_type", source, "");
  if (type.empty()) type = get_string(*v, "type", source, "");
  if (type == "default") return std::nullopt;
  if (type != "llama3")
    fail(source, "rope_scaling.rope_type",
         "\"" + type + "\" is not supported (supported: \"llama3\", \"default\" or rope_scaling: null)");
  RopeScaling s;
  s.type = type;
  const std::string where = source + ": rope_scaling";
  s.factor = get_positive(*v, "factor", where, s.factor);
  s.low_freq_factor = get_positive(*v, "low_freq_factor", where, s.low_freq_factor);
  s.high_freq_factor = get_positive(*v, "high_freq_factor", where, s.high_freq_factor);
  s.original_max_position_embeddings =
      get_int(*v, "original_max_position_embeddings", where, s.original_max_position_embeddings);
  if (!(s.high_freq_factor > s.low_freq_factor))
    fail(source, "rope_scaling.high_freq_factor", "must be greater than low_freq_factor");
  return s;
}

}  // namespace

int64_t LlamaConfig::parameter_count() const {
  const int64_t attn = hidden_size * q_dim() * 2 + hidden_size * kv_dim() * 2 +
                       (attention_bias ? q_dim() + 2 * kv_dim() : 0);
  const int64_t mlp = 3 * hidden_size * intermediate_size;
  const int64_t layer = attn + mlp + 2 * hidden_size;
  return vocab_size * hidden_size * (tie_word_embeddings ? 1 : 2) + num_hidden_layers * layer + hidden_size;
}

LlamaConfig parse_llama_config(const json& doc, const std::string& source) {
  if (!doc.is_object()) fail(source, "(top level)", "expected a JSON object");
  LlamaConfig c;
  c.model_type = infer_model_type(doc, source);
  if (c.model_type != "llama" && c.model_type != "qwen2")
    fail(source, "model_type", "\"" + c.model_type + "\" is not supported (supported: \"llama\", \"qwen2\")");
  if (const json* arch = find(doc, "architectures")) {
    if (!arch->is_array()) fail(source, "architectures", "expected a list of strings");
    for (const auto& a : *arch) {
      if (!a.is_string()) fail(source, "architectures", "expected a list of strings");
      c.architectures.push_back(a.get<std::string>());
    }
  }
  c.vocab_size = get_int(doc, "vocab_size", source, std::nullopt);
  c.hidden_size = get_int(doc, "hidden_size", source, std::nullopt);
  c.intermediate_size = get_int(doc, "intermediate_size", source, std::nullopt);
  c.num_hidden_layers = get_int(doc, "num_hidden_layers", source, std::nullopt);
  c.num_attention_heads = get_int(doc, "num_attention_heads", source, std::nullopt);
  c.num_key_value_heads = get_int(doc, "num_key_value_heads", source, c.num_attention_heads);
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    fail(source, "num_key_value_heads",
         std::to_string(c.num_key_value_heads) + " does not divide num_attention_heads " +
             std::to_string(c.num_attention_heads));
  if (find(doc, "head_dim")) {
    c.head_dim = get_int(doc, "head_dim", source, std::nullopt);
  } else {
    if (c.hidden_size % c.num_attention_heads != 0)
      fail(source, "num_attention_heads",
           std::to_string(c.num_attention_heads) + " does not divide hidden_size " + std::to_string(c.hidden_size) +
               " (give head_dim explicitly)");
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  if (c.head_dim % 2 != 0) fail(source, "head_dim", "must be even for rotary embeddings, got " + std::to_string(c.head_dim));
  c.max_position_embeddings = get_int(doc, "max_position_embeddings", source, c.model_type == "qwen2" ? 32768 : 2048);
  c.rms_norm_eps = get_positive(doc, "rms_norm_eps", source, 1e-6);
  c.rope_theta = get_positive(doc, "rope_theta", source, 10000.0);
  c.rope_scaling = parse_rope_scaling(doc, source);
  c.tie_word_embeddings = get_bool(doc, "tie_word_embeddings", source, false);
  // Qwen2 always has q/k/v biases (its attention is built with bias=True); LLaMA has them only with attention_bias.
  c.attention_bias = c.model_type == "qwen2" ? true : get_bool(doc, "attention_bias", source, false);
  if (get_bool(doc, "mlp_bias", source, false)) fail(source, "mlp_bias", "MLP biases are not supported");
  const std::string act = get_string(doc, "hidden_act", source, "silu");
  if (act != "silu") fail(source, "hidden_act", "\"" + act + "\" is not supported (expected \"silu\")");
  if (get_bool(doc, "use_sliding_window", source, false))
    fail(source, "use_sliding_window", "sliding-window attention is not supported");
  if (const json* v = find(doc, "bos_token_id")) c.bos_token_id = token_id(*v, "bos_token_id", source, c.vocab_size);
  if (const json* v = find(doc, "eos_token_id")) {
    if (v->is_array()) {
      for (const auto& e : *v) c.eos_token_ids.push_back(token_id(e, "eos_token_id", source, c.vocab_size));
    } else {
      c.eos_token_ids.push_back(token_id(*v, "eos_token_id", source, c.vocab_size));
    }
  }
  c.torch_dtype = get_string(doc, "torch_dtype", source, "float32");
  return c;
}

LlamaConfig load_llama_config(const std::filesystem::path& config_json) {
  std::ifstream in(config_json);
  if (!in) throw ConfigError(config_json.string() + ": cannot open");
  json doc;
  try {
    doc = json::parse(in);
  } catch (const json::parse_error& e) {
    throw ConfigError(config_json.string() + ": not valid JSON: " + e.what());
  }
  return parse_llama_config(doc, config_json.string());
}

json to_hf_json(const LlamaConfig& c) {
  json j;
  j["architectures"] = c.architectures.empty()
                           ? json::array({c.model_type == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"})
                           : json(c.architectures);
  j["model_type"] = c.model_type;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  j["head_dim"] = c.head_dim;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope_theta;
  if (c.rope_scaling) {
    j["rope_scaling"] = {{"rope_type", c.rope_scaling->type},
                         {"factor", c.rope_scaling->factor},
                         {"low_freq_factor", c.rope_scaling->low_freq_factor},
                         {"high_freq_factor", c.rope_scaling->high_freq_factor},
                         {"original_max_position_embeddings", c.rope_scaling->original_max_position_embeddings}};
  } else {
    j["rope_scaling"] = nullptr;
  }
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  if (c.model_type == "llama") {
    j["attention_bias"] = c.attention_bias;
    j["mlp_bias"] = false;
  }
  j["hidden_act"] = "silu";
  if (c.bos_token_id) j["bos_token_id"] = *c.bos_token_id;
  if (c.eos_token_ids.size() == 1) j["eos_token_id"] = c.eos_token_ids[0];
  else if (!c.eos_token_ids.empty()) j["eos_token_id"] = c.eos_token_ids;
  j["torch_dtype"] = c.torch_dtype;
  j["use_cache"] = true;
  return j;
}

}  // namespace wafersim::models
