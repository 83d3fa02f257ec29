// safetensors reading: dtypes, single and sharded checkpoints, and one crafted file per kind of corruption,
// each of which must be a ConfigError naming the file and (where there is one) the tensor.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "common/error.hpp"
#include "common/fp16.hpp"
#include "models/llama_weights.hpp"
#include "models/model_generator.hpp"
#include "models/safetensors.hpp"
#include "models/safetensors_writer.hpp"
#include "model_test_util.hpp"

namespace wafersim::models {
namespace {

using testing::float_bytes;
using testing::safetensors_bytes;
using wafersim::test::TestDir;
using testing::write_bytes;

// The message of the ConfigError that `f` throws ("(no error)" if none).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "in: " << (haystack)

std::string header_error(const std::string& bytes) {
  return error_of([&] {
    parse_safetensors_header({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, "f.safetensors");
  });
}

TEST(Half, ConvertsExactlyAndRoundsToNearestEven) {
  EXPECT_EQ(f16_bits_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_bits_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f16_bits_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_bits_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(f16_bits_to_f32(0x0200), std::ldexp(1.0f, -15));
  EXPECT_TRUE(std::isinf(f16_bits_to_f32(0x7c00)));
  EXPECT_TRUE(std::isnan(f16_bits_to_f32(0x7e00)));
  // Every finite half survives a round trip through fp32.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00) continue;
    ASSERT_EQ(f32_to_f16_bits(f16_bits_to_f32(static_cast<uint16_t>(h))), h) << h;
  }
  EXPECT_EQ(f32_to_f16_bits(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // halfway, rounds to even (down)
  EXPECT_EQ(f32_to_f16_bits(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // halfway, rounds to even (up)
  EXPECT_EQ(f32_to_f16_bits(70000.0f), 0x7c00);
  EXPECT_EQ(f32_to_f16_bits(std::ldexp(1.0f, -25)), 0x0000);            // halfway to the smallest subnormal
  EXPECT_EQ(f32_to_f16_bits(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(bf16_bits_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(f32_to_bf16_bits(1.00390625f), 0x3f80);  // 1 + 2^-8: halfway, even
  EXPECT_EQ(f32_to_bf16_bits(-3.0f), 0xc040);
}

TEST(Safetensors, ReadsF32F16Bf16AsFloat) {
  TestDir dir;
  const std::vector<float> values{1.0f, -2.5f, 0.333251953125f, 1024.0f, -0.0001220703125f, 3.0f};
  std::vector<TensorToWrite> tensors;
  for (DType dt : {DType::F32, DType::F16, DType::BF16})
    tensors.push_back({"t_" + std::string(dtype_name(dt)), dt, {2, 3}, [&, dt] { return encode_floats(values, dt); }});
  {
    std::ofstream out(dir / "model.safetensors", std::ios::binary);
    write_safetensors(out, tensors);
  }
  const Checkpoint ckpt = Checkpoint::open(dir.path());
  EXPECT_EQ(ckpt.tensor_names(), (std::vector<std::string>{"t_BF16", "t_F16", "t_F32"}));
  const FloatTensor f32 = ckpt.load_f32("t_F32", {2, 3});
  const FloatTensor f16 = ckpt.load_f32("t_F16", {2, 3});
  const FloatTensor bf16 = ckpt.load_f32("t_BF16", {2, 3});
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(f32[i], values[i]);
    EXPECT_EQ(f16[i], values[i]);  // all values are exact in fp16
  }
  EXPECT_EQ(bf16[0], 1.0f);
  EXPECT_EQ(bf16[1], -2.5f);
  EXPECT_EQ(bf16[2], 0.333984375f);  // bf16 keeps 8 significant bits
  EXPECT_EQ(bf16[3], 1024.0f);
  // F32 with an aligned data section is used in place (memory-mapped), not copied.
  const auto entry = ckpt.find("t_F32");
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(reinterpret_cast<const uint8_t*>(f32.data()), entry->file->tensor_bytes(*entry->info).data());
  EXPECT_EQ(entry->file->header().metadata.at("format"), "pt");
}

TEST(Safetensors, ReadsShardedCheckpointThroughIndex) {
  TestDir dir;
  auto shard = [&](const std::string& file, const std::string& name, float v) {
    std::ofstream out(dir / file, std::ios::binary);
    write_safetensors(out, {{name, DType::F32, {2}, [v] { return encode_floats({v, v + 1}, DType::F32); }}});
  };
  shard("model-00001-of-00002.safetensors", "a", 1.0f);
  shard("model-00002-of-00002.safetensors", "b", 5.0f);
  write_bytes(dir / "model.safetensors.index.json",
              R"({"metadata": {"total_size": 16}, "weight_map": {"a": "model-00001-of-00002.safetensors",
                  "b": "model-00002-of-00002.safetensors"}})");
  const Checkpoint ckpt = Checkpoint::open(dir.path());
  EXPECT_EQ(ckpt.load_f32("a", {2})[1], 2.0f);
  EXPECT_EQ(ckpt.load_f32("b", {2})[0], 5.0f);
  EXPECT_EQ(ckpt.find("b")->file->path(), dir / "model-00002-of-00002.safetensors");
}

TEST(SafetensorsErrors, TruncatedFileShorterThanLengthField) {
  EXPECT_EQ(header_error("abc"),
            "f.safetensors: truncated: 3 bytes, but a safetensors file starts with an 8-byte header length");
}

TEST(SafetensorsErrors, HeaderLengthPastTheEnd) {
  EXPECT_CONTAINS(header_error(safetensors_bytes("{}", "", 1000)),
                  "f.safetensors: header length 1000 runs past the end of the file (10 bytes");
  // A huge length must not overflow the bounds check.
  EXPECT_CONTAINS(header_error(safetensors_bytes("{}", "", INT64_MAX)), "runs past the end of the file");
}

TEST(SafetensorsErrors, OffsetsPastTheEndNameTheTensor) {
  // A 16-byte tensor whose file was cut after 8 data bytes.
  const std::string bytes = safetensors_bytes(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
                                              float_bytes({1, 2}));
  EXPECT_CONTAINS(header_error(bytes),
                  "f.safetensors: tensor 'w': data_offsets [0,16] run past the end of the data section (8 bytes");
}

TEST(SafetensorsErrors, OverlappingTensors) {
  const std::string bytes = safetensors_bytes(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
      float_bytes({1, 2, 3}));
  EXPECT_CONTAINS(header_error(bytes), "f.safetensors: tensor 'b': data_offsets [4, 12) overlap tensor 'a' [0, 8)");
}

TEST(SafetensorsErrors, UnknownDtype) {
  const std::string bytes =
      safetensors_bytes(R"({"w":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}})", float_bytes({1}));
  EXPECT_EQ(header_error(bytes), "f.safetensors: tensor 'w': unknown dtype \"F17\"");
}

TEST(SafetensorsErrors, SizeDisagreesWithDtypeAndShape) {
  const std::string bytes =
      safetensors_bytes(R"({"w":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}})", float_bytes({1, 2}));
  EXPECT_CONTAINS(header_error(bytes), "tensor 'w': data_offsets [0,8] hold 8 bytes, but dtype F16 shape [3] needs 6");
}

TEST(SafetensorsErrors, ShapeOverflowIsRejected) {
  const std::string bytes = safetensors_bytes(
      R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}})", "");
  EXPECT_CONTAINS(header_error(bytes), "tensor 'w': shape [4294967296,4294967296,16] is too large");
}

TEST(SafetensorsErrors, GapsAndTrailingBytes) {
  EXPECT_CONTAINS(header_error(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                                 float_bytes({1, 2}))),
                  "tensor 'w': data_offsets [4, 8) leave a gap of 4 unindexed bytes");
  EXPECT_CONTAINS(header_error(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                                                 float_bytes({1, 2}))),
                  "the data section has 8 bytes but the tensors cover only 4");
}

TEST(SafetensorsErrors, MalformedHeaders) {
  EXPECT_CONTAINS(header_error(safetensors_bytes("[1,2]", "")), "does not start with a JSON object");
  EXPECT_CONTAINS(header_error(safetensors_bytes("{\"a\": ", "")), "f.safetensors: header is not valid JSON");
  EXPECT_CONTAINS(header_error(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", "")),
                  "tensor 'w': shape [-1] has an entry that is not a non-negative integer");
  EXPECT_CONTAINS(header_error(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})",
                                                 float_bytes({1, 2}))),
                  "tensor 'w': data_offsets [8,4] end before they begin");
  EXPECT_CONTAINS(header_error(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[1]}})", float_bytes({1}))),
                  "tensor 'w': missing \"data_offsets\"");
  EXPECT_CONTAINS(header_error(safetensors_bytes(R"({"__metadata__":{"k":3}})", "")), "__metadata__: \"k\" is not a string");
  // A valid empty checkpoint is fine; padding spaces after the JSON are allowed.
  EXPECT_EQ(header_error(safetensors_bytes("{}      ", "")), "(no error)");
}

TEST(SafetensorsErrors, HostileHeadersAreRejectedWithoutCrashing) {
  // 200,000 levels of nesting: parsed without recursion trouble, then refused as a tensor entry.
  const std::string deep = "{\"a\":" + std::string(200000, '[') + std::string(200000, ']') + "}";
  EXPECT_EQ(header_error(safetensors_bytes(deep, "")), "f.safetensors: tensor 'a': header entry is not an object");
  EXPECT_CONTAINS(header_error(safetensors_bytes("{\"\xff\xfe\":{}}", "")), "header is not valid JSON");
  EXPECT_CONTAINS(header_error(safetensors_bytes(
                      R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,18446744073709551615]}})", "")),
                  "tensor 'a': data_offsets [18446744073709551612,18446744073709551615] run past the end");
  EXPECT_CONTAINS(header_error(std::string(8, '\xff') + "{}"), "header length 18446744073709551615 runs past the end");
}

TEST(SafetensorsErrors, FileErrorsNameThePath) {
  TestDir dir;
  write_bytes(dir / "model.safetensors", safetensors_bytes("{}", "", 99));
  EXPECT_CONTAINS(error_of([&] { Checkpoint::open(dir.path()); }),
                  (dir / "model.safetensors").string() + ": header length 99 runs past the end");
  EXPECT_CONTAINS(error_of([&] { Checkpoint::open(dir / "missing"); }), "missing: no such file or directory");
  EXPECT_CONTAINS(error_of([&] { Checkpoint::open(dir / "nope.safetensors"); }), "no such file");
}

TEST(SafetensorsErrors, MissingMisShapedAndNonFloatTensors) {
  TestDir dir;
  write_bytes(dir / "model.safetensors",
              safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
                                R"("i":{"dtype":"I64","shape":[1],"data_offsets":[16,24]}})",
                                float_bytes({1, 2, 3, 4, 0, 0})));
  const Checkpoint ckpt = Checkpoint::open(dir.path());
  const std::string file = (dir / "model.safetensors").string();
  EXPECT_CONTAINS(error_of([&] { ckpt.load_f32("v", {4}, "config.json hidden_size=4"); }),
                  "tensor 'v' is missing (expected shape [4] (config.json hidden_size=4))");
  EXPECT_EQ(error_of([&] { ckpt.load_f32("w", {4, 2}, "why"); }),
            file + ": tensor 'w': has shape [2, 2], expected [4, 2] (why)");
  EXPECT_EQ(error_of([&] { ckpt.load_f32("i", {1}); }),
            file + ": tensor 'i': has dtype I64; weights must be F32, F16 or BF16");
}

TEST(SafetensorsErrors, IndexNamingAMissingShard) {
  TestDir dir;
  write_bytes(dir / "model.safetensors.index.json",
              R"({"weight_map": {"model.norm.weight": "model-00002-of-00002.safetensors"}})");
  EXPECT_CONTAINS(error_of([&] { Checkpoint::open(dir.path()); }),
                  "model.safetensors.index.json: weight_map: tensor 'model.norm.weight' is in shard "
                  "'model-00002-of-00002.safetensors', which is not there");
  write_bytes(dir / "model.safetensors.index.json", R"({"weight_map": {"x": "../etc/passwd"}})");
  EXPECT_CONTAINS(error_of([&] { Checkpoint::open(dir.path()); }), "must be a file name inside the checkpoint directory");
  // The shard exists but does not hold the tensor the index promises.
  write_bytes(dir / "s1.safetensors", safetensors_bytes("{}", ""));
  write_bytes(dir / "model.safetensors.index.json", R"({"weight_map": {"x": "s1.safetensors"}})");
  EXPECT_CONTAINS(error_of([&] { Checkpoint::open(dir.path()); }), "weight_map: tensor 'x' is not in shard 's1.safetensors'");
}

// --- config vs tensors --------------------------------------------------------------------------------------

LlamaConfig tiny_config() { return find_model_preset("tiny").config; }

void write_checkpoint(const std::filesystem::path& file, const LlamaConfig& c) {
  std::vector<TensorToWrite> tensors;
  for (const auto& e : expected_tensors(c))
    tensors.push_back({e.name, DType::F32, e.shape, [e, c] { return encode_floats(generate_tensor(e, c, 1), DType::F32); }});
  std::ofstream out(file, std::ios::binary);
  write_safetensors(out, tensors);
}

TEST(SafetensorsErrors, ConfigContradictingTensors) {
  TestDir dir;
  write_checkpoint(dir / "model.safetensors", tiny_config());
  const Checkpoint ckpt = Checkpoint::open(dir.path());
  const std::string file = (dir / "model.safetensors").string();
  EXPECT_NO_THROW(load_llama_weights(ckpt, tiny_config()));

  LlamaConfig c = tiny_config();
  c.num_key_value_heads = 4;  // the file has 2 KV heads
  EXPECT_EQ(error_of([&] { load_llama_weights(ckpt, c); }),
            file + ": tensor 'model.layers.0.self_attn.k_proj.weight': has shape [32, 64], expected [64, 64] "
                   "(config.json num_key_value_heads=4 x head_dim=16, hidden_size=64)");

  c = tiny_config();
  c.num_hidden_layers = 1;  // the file has 2 layers
  EXPECT_CONTAINS(error_of([&] { load_llama_weights(ckpt, c); }),
                  "layer 1 exists but config.json num_hidden_layers=1");

  c = tiny_config();
  c.num_hidden_layers = 3;
  EXPECT_CONTAINS(error_of([&] { load_llama_weights(ckpt, c); }),
                  "tensor 'model.layers.2.input_layernorm.weight' is missing");

  c = tiny_config();
  c.vocab_size = 1000;
  EXPECT_CONTAINS(error_of([&] { load_llama_weights(ckpt, c); }),
                  "tensor 'model.embed_tokens.weight': has shape [512, 64], expected [1000, 64] (config.json vocab_size=1000");

  c = tiny_config();
  c.model_type = "qwen2";
  c.attention_bias = true;  // Qwen2 needs q/k/v biases the file lacks
  EXPECT_CONTAINS(error_of([&] { load_llama_weights(ckpt, c); }), "tensor 'model.layers.0.self_attn.q_proj.bias' is missing");
}

TEST(SafetensorsErrors, BiasesWithoutAttentionBiasInConfig) {
  TestDir dir;
  LlamaConfig with_bias = tiny_config();
  with_bias.attention_bias = true;
  write_checkpoint(dir / "model.safetensors", with_bias);
  EXPECT_CONTAINS(error_of([&] { load_llama_weights(Checkpoint::open(dir.path()), tiny_config()); }),
                  "the checkpoint has attention biases but config.json");
}

TEST(SafetensorsErrors, TruncatedCheckpointFromTheGenerator) {
  TestDir dir;
  write_checkpoint(dir / "full.safetensors", tiny_config());
  std::ifstream in(dir / "full.safetensors", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  write_bytes(dir / "model.safetensors", bytes.substr(0, bytes.size() - 100));
  const std::string msg = error_of([&] { Checkpoint::open(dir / "model.safetensors"); });
  // The last tensor written is lm_head.weight: it is the one cut.
  EXPECT_CONTAINS(msg, (dir / "model.safetensors").string() + ": tensor 'lm_head.weight': data_offsets");
  EXPECT_CONTAINS(msg, "run past the end of the data section");
}

}  // namespace
}  // namespace wafersim::models
