// Writes the safetensors format: 8-byte little-endian header length, JSON header padded with spaces to a multiple
// of 8 bytes, then the tensors back to back in the order given. Tensor bytes are produced one tensor at a time so
// a large checkpoint never has to sit in memory. Not provided: sharding.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "models/safetensors.hpp"

namespace wafersim::models {

struct TensorToWrite {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  // Produces exactly numel * dtype_size bytes (little endian); called once, in order.
  std::function<std::vector<uint8_t>()> bytes;
};

// Throws std::runtime_error if a producer returns the wrong number of bytes or the stream fails.
void write_safetensors(std::ostream& out, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// Little-endian bytes of fp32 values stored as `dtype` (F32, F16 with round-to-nearest-even, or BF16).
std::vector<uint8_t> encode_floats(const std::vector<float>& values, DType dtype);

}  // namespace wafersim::models
