#include "models/safetensors_writer.hpp"

#include <cstring>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "common/fp16.hpp"

namespace wafersim::models {

void write_safetensors(std::ostream& out, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  std::vector<uint64_t> sizes;
  for (const auto& t : tensors) {
    uint64_t numel = 1;
    for (auto d : t.shape) numel *= static_cast<uint64_t>(d);
    const uint64_t size = numel * dtype_size(t.dtype);
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + size}}};
    offset += size;
    sizes.push_back(size);
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data section 8-byte aligned
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  out.write(reinterpret_cast<const char*>(length), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (size_t i = 0; i < tensors.size(); ++i) {
    const std::vector<uint8_t> bytes = tensors[i].bytes();
    if (bytes.size() != sizes[i])
      throw std::runtime_error("tensor '" + tensors[i].name + "': producer gave " + std::to_string(bytes.size()) +
                               " bytes, expected " + std::to_string(sizes[i]));
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  if (!out) throw std::runtime_error("write failed");
}

std::vector<uint8_t> encode_floats(const std::vector<float>& values, DType dtype) {
  std::vector<uint8_t> bytes(values.size() * dtype_size(dtype));
  switch (dtype) {
    case DType::F32:
      std::memcpy(bytes.data(), values.data(), bytes.size());
      break;
    case DType::F16:
    case DType::BF16:
      for (size_t i = 0; i < values.size(); ++i) {
        const uint16_t h = dtype == DType::F16 ? f32_to_f16_bits(values[i]) : f32_to_bf16_bits(values[i]);
        bytes[2 * i] = static_cast<uint8_t>(h);
        bytes[2 * i + 1] = static_cast<uint8_t>(h >> 8);
      }
      break;
    default:
      throw std::invalid_argument("encode_floats: dtype " + std::string(dtype_name(dtype)) + " is not a float type");
  }
  return bytes;
}

}  // namespace wafersim::models
