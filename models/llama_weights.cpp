#include "models/llama_weights.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "common/error.hpp"

namespace wafersim::models {

namespace {

std::string eq(const char* field, int64_t value) { return std::string(field) + "=" + std::to_string(value); }

// One NaN or Inf weight reaches every later activation through the norms and the softmax, so the tokens would be
// meaningless: such a checkpoint is refused, naming the tensor, how many values and where the first one is.
// Values whose exponent bits are all ones (NaN or Inf), counted on the stored bits: a fast pass over a clean
// checkpoint, cheaper than widening every value to fp32.
size_t count_non_finite_bits(const FloatTensor& t) {
  const auto* p = static_cast<const uint8_t*>(t.raw());
  auto count = [&](auto zero, decltype(zero) exponent) {
    size_t c = 0;
    for (size_t i = 0; i < t.size(); ++i) {
      decltype(zero) bits;
      std::memcpy(&bits, p + i * sizeof bits, sizeof bits);
      c += (bits & exponent) == exponent;
    }
    return c;
  };
  switch (t.dtype()) {
    case DType::F16: return count(uint16_t{}, uint16_t{0x7c00});
    case DType::BF16: return count(uint16_t{}, uint16_t{0x7f80});
    default: return count(uint32_t{}, uint32_t{0x7f800000});  // F32: FloatTensor holds no other dtype
  }
}

void check_finite(const FloatTensor& t, const std::string& file, const std::string& name) {
  if (count_non_finite_bits(t) == 0) return;
  constexpr size_t kChunk = 4096;
  float buf[kChunk];
  const auto* bytes = static_cast<const uint8_t*>(t.raw());
  const size_t elem = dtype_size(t.dtype());
  size_t nan = 0, inf = 0, first = 0;
  float first_value = 0;
  for (size_t i = 0; i < t.size(); i += kChunk) {
    const size_t n = std::min(kChunk, t.size() - i);
    convert_to_f32(t.dtype(), bytes + i * elem, n, buf);
    for (size_t j = 0; j < n; ++j) {
      if (std::isfinite(buf[j])) continue;
      if (nan + inf == 0) first = i + j, first_value = buf[j];
      ++(std::isnan(buf[j]) ? nan : inf);
    }
  }
  if (nan + inf == 0) return;
  std::string at = std::to_string(first);
  if (t.shape().size() == 2) {
    const auto cols = static_cast<size_t>(t.shape()[1]);
    at += " (row " + std::to_string(first / cols) + ", column " + std::to_string(first % cols) + ")";
  }
  const std::string count = std::to_string(nan + inf) + (nan + inf == 1 ? " non-finite value" : " non-finite values");
  const char* first_kind = std::isnan(first_value) ? "NaN" : first_value > 0 ? "+Inf" : "-Inf";
  throw ConfigError(file + ": tensor '" + name + "' " + shape_string(t.shape()) + ": " + count + " (" +
                    std::to_string(nan) + " NaN, " + std::to_string(inf) + " Inf), the first at index " + at + " is " +
                    first_kind + "; a model with NaN/Inf weights cannot generate meaningful tokens");
}

}  // namespace

std::vector<ExpectedTensor> expected_tensors(const LlamaConfig& c) {
  const std::string hidden = eq("hidden_size", c.hidden_size);
  const std::string q = eq("num_attention_heads", c.num_attention_heads) + " x " + eq("head_dim", c.head_dim);
  const std::string kv = eq("num_key_value_heads", c.num_key_value_heads) + " x " + eq("head_dim", c.head_dim);
  const std::string inter = eq("intermediate_size", c.intermediate_size);
  const std::string vocab = eq("vocab_size", c.vocab_size);
  auto why = [](const std::string& a, const std::string& b = "") { return "config.json " + a + (b.empty() ? "" : ", " + b); };

  std::vector<ExpectedTensor> t;
  t.push_back({"model.embed_tokens.weight", {c.vocab_size, c.hidden_size}, why(vocab, hidden)});
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    t.push_back({p + "input_layernorm.weight", {c.hidden_size}, why(hidden)});
    t.push_back({p + "self_attn.q_proj.weight", {c.q_dim(), c.hidden_size}, why(q, hidden)});
    t.push_back({p + "self_attn.k_proj.weight", {c.kv_dim(), c.hidden_size}, why(kv, hidden)});
    t.push_back({p + "self_attn.v_proj.weight", {c.kv_dim(), c.hidden_size}, why(kv, hidden)});
    if (c.attention_bias) {
      t.push_back({p + "self_attn.q_proj.bias", {c.q_dim()}, why(q, "attention bias (" + c.model_type + ")")});
      t.push_back({p + "self_attn.k_proj.bias", {c.kv_dim()}, why(kv, "attention bias (" + c.model_type + ")")});
      t.push_back({p + "self_attn.v_proj.bias", {c.kv_dim()}, why(kv, "attention bias (" + c.model_type + ")")});
    }
    t.push_back({p + "self_attn.o_proj.weight", {c.hidden_size, c.q_dim()}, why(hidden, q)});
    t.push_back({p + "post_attention_layernorm.weight", {c.hidden_size}, why(hidden)});
    t.push_back({p + "mlp.gate_proj.weight", {c.intermediate_size, c.hidden_size}, why(inter, hidden)});
    t.push_back({p + "mlp.up_proj.weight", {c.intermediate_size, c.hidden_size}, why(inter, hidden)});
    t.push_back({p + "mlp.down_proj.weight", {c.hidden_size, c.intermediate_size}, why(hidden, inter)});
  }
  t.push_back({"model.norm.weight", {c.hidden_size}, why(hidden)});
  if (!c.tie_word_embeddings)
    t.push_back({"lm_head.weight", {c.vocab_size, c.hidden_size}, why(vocab, hidden + ", tie_word_embeddings=false")});
  return t;
}

LlamaWeights load_llama_weights(const Checkpoint& checkpoint, const LlamaConfig& config) {
  // A checkpoint with more layers than config.json says is a config that contradicts the tensors.
  for (const auto& name : checkpoint.tensor_names()) {
    constexpr std::string_view prefix = "model.layers.";
    if (!name.starts_with(prefix)) continue;
    const size_t dot = name.find('.', prefix.size());
    int64_t layer = -1;
    try {
      layer = std::stoll(name.substr(prefix.size(), dot - prefix.size()));
    } catch (const std::exception&) {
      continue;
    }
    if (layer >= config.num_hidden_layers) {
      const auto entry = checkpoint.find(name);
      throw ConfigError(entry->file->path().string() + ": tensor '" + name + "': layer " + std::to_string(layer) +
                        " exists but config.json num_hidden_layers=" + std::to_string(config.num_hidden_layers));
    }
  }
  if (!config.attention_bias) {
    const std::string bias = "model.layers.0.self_attn.q_proj.bias";
    if (auto entry = checkpoint.find(bias))
      throw ConfigError(entry->file->path().string() + ": tensor '" + bias +
                        "': the checkpoint has attention biases but config.json (model_type \"" + config.model_type +
                        "\", attention_bias=false) has none");
  }

  return assemble_llama_weights(
      config, [&](const ExpectedTensor& e) {
        // Matrices stay in the file's dtype (memory-mapped, widened inside the kernels); norms and biases are
        // small and read as fp32.
        FloatTensor t = e.shape.size() == 2 ? checkpoint.load_float(e.name, e.shape, e.why)
                                            : checkpoint.load_f32(e.name, e.shape, e.why);
        check_finite(t, checkpoint.find(e.name)->file->path().string(), e.name);
        return t;
      });
}

LlamaWeights assemble_llama_weights(const LlamaConfig& config,
                                    const std::function<FloatTensor(const ExpectedTensor&)>& tensor) {
  std::map<std::string, FloatTensor> loaded;
  for (const auto& e : expected_tensors(config)) loaded[e.name] = tensor(e);

  LlamaWeights w;
  w.config = config;
  auto take = [&](const std::string& name) { return std::move(loaded.at(name)); };
  w.embed = take("model.embed_tokens.weight");
  for (int64_t l = 0; l < config.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    LayerWeights lw;
    lw.input_norm = take(p + "input_layernorm.weight");
    lw.wq = take(p + "self_attn.q_proj.weight");
    lw.wk = take(p + "self_attn.k_proj.weight");
    lw.wv = take(p + "self_attn.v_proj.weight");
    lw.wo = take(p + "self_attn.o_proj.weight");
    if (config.attention_bias) {
      lw.bq = take(p + "self_attn.q_proj.bias");
      lw.bk = take(p + "self_attn.k_proj.bias");
      lw.bv = take(p + "self_attn.v_proj.bias");
    }
    lw.post_norm = take(p + "post_attention_layernorm.weight");
    lw.w_gate = take(p + "mlp.gate_proj.weight");
    lw.w_up = take(p + "mlp.up_proj.weight");
    lw.w_down = take(p + "mlp.down_proj.weight");
    w.layers.push_back(std::move(lw));
  }
  w.final_norm = take("model.norm.weight");
  if (!config.tie_word_embeddings) w.lm_head = take("lm_head.weight");
  return w;
}

LlamaWeights load_llama_model(const std::filesystem::path& dir) {
  if (!std::filesystem::is_directory(dir)) throw ConfigError(dir.string() + ": not a model directory");
  const LlamaConfig config = load_llama_config(dir / "config.json");
  return load_llama_weights(Checkpoint::open(dir), config);
}

}  // namespace wafersim::models
