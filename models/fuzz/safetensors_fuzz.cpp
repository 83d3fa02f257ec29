// libFuzzer target for the safetensors header parser (built by tools/fuzz-safetensors.sh, not by CMake):
// any input must either parse into tensors that lie inside the data section or throw ConfigError; crashes,
// other exceptions, sanitizer reports and hangs are findings.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "common/error.hpp"
#include "models/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wafersim::models;
  const std::span<const uint8_t> file(data, size);
  SafetensorsHeader header;
  try {
    header = parse_safetensors_header(file, "fuzz.safetensors");
  } catch (const wafersim::ConfigError&) {
    return 0;
  }
  // Accepted: every tensor must be inside the file and exactly as large as its dtype and shape say.
  const uint64_t data_size = size - header.data_offset;
  if (header.data_offset > size) std::abort();
  for (const TensorInfo& t : header.tensors) {
    if (t.begin > t.end || t.end > data_size) std::abort();
    if (static_cast<uint64_t>(t.numel()) * dtype_size(t.dtype) != t.end - t.begin) std::abort();
    if (header.find(t.name) != &t) std::abort();
    // Touch every byte the way a loader would (AddressSanitizer checks the bounds).
    if (t.dtype == DType::F32 || t.dtype == DType::F16 || t.dtype == DType::BF16) {
      std::vector<float> out(static_cast<size_t>(t.numel()));
      convert_to_f32(t.dtype, data + header.data_offset + t.begin, out.size(), out.data());
    }
  }
  return 0;
}
