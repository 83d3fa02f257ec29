// Reader for Hugging Face safetensors checkpoints: one `model.safetensors` or shards listed by
// `model.safetensors.index.json`, memory-mapped, tensors converted to fp32 on request (F32 is used in place).
// Every malformed input is a ConfigError naming the file and the tensor. Not supported: writing (see
// model_generator), big-endian hosts, pickle (.bin) checkpoints.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wafersim::models {

// The dtypes of the safetensors format. Only F32, F16 and BF16 convert to fp32; the others are accepted in a
// header (checkpoints may carry integer buffers) but refused when loaded as weights.
enum class DType { BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64 };

std::string_view dtype_name(DType dtype);
size_t dtype_size(DType dtype);
std::optional<DType> parse_dtype(std::string_view name);

std::string shape_string(const std::vector<int64_t>& shape);  // "[4096, 128]"

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section (which follows the header)
  uint64_t end = 0;
  int64_t numel() const;
};

struct SafetensorsHeader {
  uint64_t data_offset = 0;                       // 8 + header length: where the data section starts
  std::vector<TensorInfo> tensors;                // sorted by name
  std::map<std::string, std::string> metadata;    // "__metadata__"
  const TensorInfo* find(std::string_view name) const;
};

// Upper bound on the JSON header (as in the reference implementation): a larger length is a corrupt file.
constexpr uint64_t kMaxSafetensorsHeaderBytes = 100u << 20;

// Parses and validates the header of a whole safetensors file held in `file` (header length, JSON, dtypes,
// shapes, offsets inside the data section, no overlaps or holes). `file_name` prefixes every error message.
SafetensorsHeader parse_safetensors_header(std::span<const uint8_t> file, const std::string& file_name);

// A read-only memory mapping of a whole file.
class MappedFile {
 public:
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// A float tensor (F32, F16 or BF16) read as fp32: either an owned fp32 copy or a view of the original bytes in a
// mapped file (16-bit weights stay 16-bit in memory and are widened inside the kernels, exactly).
class FloatTensor {
 public:
  FloatTensor() = default;
  FloatTensor(std::vector<int64_t> shape, std::vector<float> values);
  // `view` holds numel values of `dtype` (F32, F16 or BF16; little endian, aligned to the element size).
  FloatTensor(std::vector<int64_t> shape, DType dtype, const void* view, std::shared_ptr<const void> keep_alive);
  DType dtype() const { return dtype_; }
  const void* raw() const { return data_; }
  // The values as fp32; only for F32 tensors (throws std::logic_error otherwise; see to_f32).
  const float* data() const;
  float operator[](size_t i) const;
  void row_to_f32(size_t row, size_t row_length, float* out) const;  // values [row*len, (row+1)*len)
  FloatTensor to_f32() const;  // an owned fp32 copy (or *this if already F32)
  size_t size() const { return size_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  bool empty() const { return size_ == 0; }

 private:
  std::vector<int64_t> shape_;
  std::shared_ptr<const void> storage_;
  const void* data_ = nullptr;
  DType dtype_ = DType::F32;
  size_t size_ = 0;
};

// One mapped safetensors file.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::filesystem::path& path);
  const SafetensorsHeader& header() const { return header_; }
  const std::filesystem::path& path() const { return file_->path(); }
  std::span<const uint8_t> tensor_bytes(const TensorInfo& info) const;
  std::shared_ptr<const MappedFile> mapping() const { return file_; }

 private:
  std::shared_ptr<const MappedFile> file_;
  SafetensorsHeader header_;
};

// A checkpoint: `model.safetensors`, sharded files via `model.safetensors.index.json`, or a single .safetensors
// file given directly.
class Checkpoint {
 public:
  static Checkpoint open(const std::filesystem::path& dir_or_file);

  struct Entry {
    const TensorInfo* info;
    const SafetensorsFile* file;
  };
  std::optional<Entry> find(std::string_view name) const;
  std::vector<std::string> tensor_names() const;
  const std::filesystem::path& source() const { return source_; }

  // The tensor checked against `expected_shape`. Throws ConfigError "<file>: tensor '<name>': ..." for a missing
  // tensor, another shape, or a dtype that is not F32/F16/BF16; `why` explains the expected shape (e.g.
  // "config.json hidden_size=64"). load_f32 converts to an owned fp32 copy unless the data is F32 and aligned;
  // load_float keeps any aligned float dtype in place (memory-mapped), converting only misaligned data.
  FloatTensor load_f32(const std::string& name, const std::vector<int64_t>& expected_shape,
                       const std::string& why = "") const;
  FloatTensor load_float(const std::string& name, const std::vector<int64_t>& expected_shape,
                         const std::string& why = "") const;

 private:
  std::filesystem::path source_;  // the directory, index or file that was opened
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, Entry, std::less<>> tensors_;
};

// Converts `count` elements of `dtype` at `bytes` (any alignment, little endian) to fp32.
void convert_to_f32(DType dtype, const uint8_t* bytes, size_t count, float* out);

}  // namespace wafersim::models
