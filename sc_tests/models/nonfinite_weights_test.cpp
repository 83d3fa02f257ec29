// A checkpoint whose tensors hold NaN or Inf is refused when loaded (library and `wafersim generate`), naming the
// file, the tensor, the count and the first index, instead of generating meaningless tokens.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "models/llama_weights.hpp"
#include "models/model_generator.hpp"
#include "models/safetensors.hpp"
#include "sc_tests/cli_run.hpp"
#include "sc_tests/test_dir.hpp"

namespace wafersim::models {
namespace {

namespace fs = std::filesystem;

// Overwrites the F16 values at `indices` of tensor `name` in `file` with `bits`.
void poke_f16(const fs::path& file, const std::string& name, const std::vector<std::pair<size_t, uint16_t>>& values) {
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const SafetensorsHeader h =
      parse_safetensors_header({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, file.string());
  const TensorInfo* t = h.find(name);
  ASSERT_NE(t, nullptr) << name;
  ASSERT_EQ(t->dtype, DType::F16);
  for (const auto& [index, bits] : values) {
    ASSERT_LT(index, static_cast<size_t>(t->numel()));
    std::memcpy(&bytes[h.data_offset + t->begin + 2 * index], &bits, 2);
  }
  std::ofstream(file, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

constexpr uint16_t kNaN = 0x7e00, kPlusInf = 0x7c00, kMinusInf = 0xfc00;

TEST(NonFiniteWeights, CleanCheckpointLoads) {
  wafersim::test::TestDir dir;
  make_model("tiny", 3, dir / "m");
  EXPECT_NO_THROW(load_llama_model(dir / "m"));
}

TEST(NonFiniteWeights, NanAndInfAreRefusedWithTensorCountAndFirstIndex) {
  wafersim::test::TestDir dir;
  make_model("tiny", 3, dir / "m");
  const std::string tensor = "model.layers.1.mlp.up_proj.weight";
  const LlamaWeights clean = load_llama_model(dir / "m");
  const size_t cols = static_cast<size_t>(clean.config.hidden_size);
  // Written out of order: the first in memory order is reported, not the first written.
  poke_f16(dir / "m" / "model.safetensors", tensor, {{2 * cols + 5, kNaN}, {cols + 3, kPlusInf}, {7 * cols, kMinusInf}});
  try {
    load_llama_model(dir / "m");
    FAIL() << "a checkpoint with NaN/Inf loaded";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    for (const std::string& part :
         {(dir / "m" / "model.safetensors").string() + ": tensor '" + tensor + "'",
          "3 non-finite values (1 NaN, 2 Inf), the first at index " + std::to_string(cols + 3) + " (row 1, column 3) is +Inf"})
      EXPECT_NE(msg.find(part), std::string::npos) << "missing '" << part << "' in: " << msg;
  }
}

TEST(NonFiniteWeights, NanInANormIsRefused) {
  wafersim::test::TestDir dir;
  make_model("tiny", 3, dir / "m");
  poke_f16(dir / "m" / "model.safetensors", "model.norm.weight", {{4, kNaN}});
  try {
    load_llama_model(dir / "m");
    FAIL() << "a NaN norm weight loaded";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'model.norm.weight' [" ), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("1 non-finite value (1 NaN, 0 Inf), the first at index 4 is NaN"),
              std::string::npos)
        << e.what();
  }
}

TEST(NonFiniteWeights, GenerateExitsWithTheMessage) {
  const fs::path exe = wafersim::test::built_wafersim();
  ASSERT_FALSE(exe.empty()) << "wafersim is not built in " << WAFERSIM_BINARY_DIR;
  wafersim::test::TestDir dir;
  make_model("tiny", 3, dir / "m");
  poke_f16(dir / "m" / "model.safetensors", "model.embed_tokens.weight", {{10, kNaN}});
  const auto r = wafersim::test::run_cli(exe.string() + " generate --model " + (dir / "m").string() +
                                         " --prompt-ids 1,2,3 --max-new-tokens 2 --json " + (dir / "out.json").string());
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("tensor 'model.embed_tokens.weight'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the first at index 10 (row 0, column 10) is NaN"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir / "out.json")) << "no result for a refused model";
}

}  // namespace
}  // namespace wafersim::models
