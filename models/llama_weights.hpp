// The weights of a LLaMA-family model under their Hugging Face names, read as fp32, checked against config.json.
// Layouts are HF's: a Linear weight is [out_features, in_features], row-major. Not supported: quantised
// weights, MLP biases. Matrices of F16/BF16 checkpoints stay 16-bit (memory-mapped); all arithmetic is fp32.
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "models/llama_config.hpp"
#include "models/safetensors.hpp"

namespace wafersim::models {

struct LayerWeights {
  FloatTensor input_norm;         // model.layers.N.input_layernorm.weight            [hidden]
  FloatTensor wq, wk, wv, wo;     // model.layers.N.self_attn.{q,k,v,o}_proj.weight
  FloatTensor bq, bk, bv;         // model.layers.N.self_attn.{q,k,v}_proj.bias       (attention_bias only)
  FloatTensor post_norm;          // model.layers.N.post_attention_layernorm.weight   [hidden]
  FloatTensor w_gate, w_up;       // model.layers.N.mlp.{gate,up}_proj.weight         [intermediate, hidden]
  FloatTensor w_down;             // model.layers.N.mlp.down_proj.weight              [hidden, intermediate]
};

struct LlamaWeights {
  LlamaConfig config;
  FloatTensor embed;              // model.embed_tokens.weight [vocab, hidden]
  std::vector<LayerWeights> layers;
  FloatTensor final_norm;         // model.norm.weight [hidden]
  FloatTensor lm_head;            // lm_head.weight [vocab, hidden]; empty when tie_word_embeddings
  const FloatTensor& output_weights() const { return config.tie_word_embeddings ? embed : lm_head; }
};

// One tensor a checkpoint of `config` must hold: HF name, shape and the config fields that fix the shape.
struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::string why;  // e.g. "config.json: num_key_value_heads=2 x head_dim=16, hidden_size=64"
};
std::vector<ExpectedTensor> expected_tensors(const LlamaConfig& config);

// Loads every tensor of `config` from `checkpoint` (missing, mis-shaped or non-float tensors, tensors of layers
// beyond num_hidden_layers and tensors holding NaN/Inf values are ConfigErrors naming the file and the tensor;
// for NaN/Inf also the count and the first index).
LlamaWeights load_llama_weights(const Checkpoint& checkpoint, const LlamaConfig& config);

// Builds the model from `tensor`, called once per expected_tensors(config) entry (loader, generator, tests).
LlamaWeights assemble_llama_weights(const LlamaConfig& config,
                                    const std::function<FloatTensor(const ExpectedTensor&)>& tensor);

// A Hugging Face model directory: config.json + model.safetensors or model.safetensors.index.json + shards.
LlamaWeights load_llama_model(const std::filesystem::path& dir);

}  // namespace wafersim::models
