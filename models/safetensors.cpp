#include "models/safetensors.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/fp16.hpp"

static_assert(std::endian::native == std::endian::little, "safetensors data is little endian; big-endian hosts are not supported");

namespace wafersim::models {

namespace {

using nlohmann::json;

struct DTypeRow {
  DType dtype;
  std::string_view name;
  size_t size;
};
constexpr std::array<DTypeRow, 15> kDTypes{{{DType::BOOL, "BOOL", 1},
                                            {DType::U8, "U8", 1},
                                            {DType::I8, "I8", 1},
                                            {DType::F8_E5M2, "F8_E5M2", 1},
                                            {DType::F8_E4M3, "F8_E4M3", 1},
                                            {DType::I16, "I16", 2},
                                            {DType::U16, "U16", 2},
                                            {DType::F16, "F16", 2},
                                            {DType::BF16, "BF16", 2},
                                            {DType::I32, "I32", 4},
                                            {DType::U32, "U32", 4},
                                            {DType::F32, "F32", 4},
                                            {DType::F64, "F64", 8},
                                            {DType::I64, "I64", 8},
                                            {DType::U64, "U64", 8}}};

const DTypeRow& row(DType dtype) {
  for (const auto& r : kDTypes)
    if (r.dtype == dtype) return r;
  return kDTypes[0];
}

[[noreturn]] void fail(const std::string& file, const std::string& what) { throw ConfigError(file + ": " + what); }

[[noreturn]] void fail_tensor(const std::string& file, const std::string& tensor, const std::string& what) {
  throw ConfigError(file + ": tensor '" + tensor + "': " + what);
}

// A JSON value that must be a non-negative integer (nlohmann stores big ones as unsigned, negative as signed).
std::optional<uint64_t> as_unsigned(const json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
  return std::nullopt;
}

std::string range_string(const TensorInfo& t) {
  return "[" + std::to_string(t.begin) + ", " + std::to_string(t.end) + ")";
}

TensorInfo parse_tensor_entry(const std::string& file, const std::string& name, const json& entry,
                              uint64_t data_size) {
  if (!entry.is_object()) fail_tensor(file, name, "header entry is not an object");
  TensorInfo t;
  t.name = name;
  auto dt = entry.find("dtype");
  if (dt == entry.end() || !dt->is_string()) fail_tensor(file, name, "missing \"dtype\" string");
  auto parsed = parse_dtype(dt->get_ref<const std::string&>());
  if (!parsed) fail_tensor(file, name, "unknown dtype \"" + dt->get<std::string>() + "\"");
  t.dtype = *parsed;

  auto sh = entry.find("shape");
  if (sh == entry.end() || !sh->is_array()) fail_tensor(file, name, "missing \"shape\" list");
  uint64_t numel = 1;
  bool overflow = false;
  for (const auto& d : *sh) {
    auto dim = as_unsigned(d);
    if (!dim || *dim > static_cast<uint64_t>(INT64_MAX))
      fail_tensor(file, name, "shape " + sh->dump() + " has an entry that is not a non-negative integer");
    t.shape.push_back(static_cast<int64_t>(*dim));
    overflow = overflow || __builtin_mul_overflow(numel, *dim, &numel);
  }
  uint64_t bytes = 0;
  overflow = overflow || __builtin_mul_overflow(numel, dtype_size(t.dtype), &bytes);
  if (overflow || numel > static_cast<uint64_t>(INT64_MAX))
    fail_tensor(file, name, "shape " + sh->dump() + " is too large");

  auto off = entry.find("data_offsets");
  if (off == entry.end() || !off->is_array() || off->size() != 2)
    fail_tensor(file, name, "missing \"data_offsets\" [begin, end]");
  auto begin = as_unsigned((*off)[0]);
  auto end = as_unsigned((*off)[1]);
  if (!begin || !end) fail_tensor(file, name, "data_offsets " + off->dump() + " are not non-negative integers");
  t.begin = *begin;
  t.end = *end;
  if (t.end < t.begin) fail_tensor(file, name, "data_offsets " + off->dump() + " end before they begin");
  if (t.end > data_size)
    fail_tensor(file, name,
                "data_offsets " + off->dump() + " run past the end of the data section (" + std::to_string(data_size) +
                    " bytes; is the file truncated?)");
  if (t.end - t.begin != bytes)
    fail_tensor(file, name,
                "data_offsets " + off->dump() + " hold " + std::to_string(t.end - t.begin) + " bytes, but dtype " +
                    std::string(dtype_name(t.dtype)) + " shape " + shape_string(t.shape) + " needs " +
                    std::to_string(bytes));
  return t;
}

}  // namespace

std::string_view dtype_name(DType dtype) { return row(dtype).name; }
size_t dtype_size(DType dtype) { return row(dtype).size; }

std::optional<DType> parse_dtype(std::string_view name) {
  for (const auto& r : kDTypes)
    if (r.name == name) return r.dtype;
  return std::nullopt;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

const TensorInfo* SafetensorsHeader::find(std::string_view name) const {
  auto it = std::lower_bound(tensors.begin(), tensors.end(), name,
                             [](const TensorInfo& t, std::string_view n) { return t.name < n; });
  return it != tensors.end() && it->name == name ? &*it : nullptr;
}

SafetensorsHeader parse_safetensors_header(std::span<const uint8_t> file, const std::string& file_name) {
  if (file.size() < 8)
    fail(file_name, "truncated: " + std::to_string(file.size()) +
                        " bytes, but a safetensors file starts with an 8-byte header length");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | file[static_cast<size_t>(i)];
  if (header_len > file.size() - 8)
    fail(file_name, "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                        std::to_string(file.size()) + " bytes; truncated or not a safetensors file?)");
  if (header_len > kMaxSafetensorsHeaderBytes)
    fail(file_name, "header length " + std::to_string(header_len) + " exceeds the " +
                        std::to_string(kMaxSafetensorsHeaderBytes) + "-byte limit");
  if (header_len < 2 || file[8] != '{')
    fail(file_name, "header does not start with a JSON object '{' (not a safetensors file?)");

  SafetensorsHeader header;
  header.data_offset = 8 + header_len;
  const uint64_t data_size = file.size() - header.data_offset;
  json doc;
  try {
    doc = json::parse(file.begin() + 8, file.begin() + static_cast<std::ptrdiff_t>(header.data_offset));
  } catch (const json::exception& e) {
    fail(file_name, std::string("header is not valid JSON: ") + e.what());
  }
  if (!doc.is_object()) fail(file_name, "header is not a JSON object");

  for (const auto& [key, value] : doc.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) fail(file_name, "__metadata__ is not an object");
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string()) fail(file_name, "__metadata__: \"" + mk + "\" is not a string");
        header.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    header.tensors.push_back(parse_tensor_entry(file_name, key, value, data_size));
  }

  // The data section must be covered exactly once: no overlaps, no holes, nothing after the last tensor.
  std::vector<const TensorInfo*> by_offset;
  for (const auto& t : header.tensors) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;
  const TensorInfo* previous = nullptr;
  for (const TensorInfo* t : by_offset) {
    if (t->begin == t->end) continue;  // empty tensors occupy no bytes
    if (t->begin < covered)
      fail_tensor(file_name, t->name,
                  "data_offsets " + range_string(*t) + " overlap tensor '" + previous->name + "' " +
                      range_string(*previous));
    if (t->begin > covered)
      fail_tensor(file_name, t->name,
                  "data_offsets " + range_string(*t) + " leave a gap of " + std::to_string(t->begin - covered) +
                      " unindexed bytes before them");
    covered = t->end;
    previous = t;
  }
  if (covered != data_size)
    fail(file_name, "the data section has " + std::to_string(data_size) + " bytes but the tensors cover only " +
                        std::to_string(covered) + " (trailing bytes after the last tensor)");
  std::sort(header.tensors.begin(), header.tensors.end(),
            [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
  return header;
}

// ---------------------------------------------------------------------------------------------------------

MappedFile::MappedFile(const std::filesystem::path& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ConfigError(path.string() + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw ConfigError(path.string() + ": not a regular file");
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw ConfigError(path.string() + ": cannot memory-map: " + std::strerror(err));
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

FloatTensor::FloatTensor(std::vector<int64_t> shape, std::vector<float> values) : shape_(std::move(shape)) {
  auto owned = std::make_shared<std::vector<float>>(std::move(values));
  data_ = owned->data();
  size_ = owned->size();
  storage_ = std::move(owned);
}

FloatTensor::FloatTensor(std::vector<int64_t> shape, DType dtype, const void* view,
                         std::shared_ptr<const void> keep_alive)
    : shape_(std::move(shape)), storage_(std::move(keep_alive)), data_(view), dtype_(dtype) {
  if (dtype != DType::F32 && dtype != DType::F16 && dtype != DType::BF16)
    throw std::logic_error("FloatTensor: dtype " + std::string(dtype_name(dtype)) + " is not a float type");
  size_ = 1;
  for (auto d : shape_) size_ *= static_cast<size_t>(d);
}

const float* FloatTensor::data() const {
  if (dtype_ != DType::F32)
    throw std::logic_error("FloatTensor::data(): tensor is " + std::string(dtype_name(dtype_)) + ", not F32");
  return static_cast<const float*>(data_);
}

float FloatTensor::operator[](size_t i) const {
  switch (dtype_) {
    case DType::F16: return f16_bits_to_f32(static_cast<const uint16_t*>(data_)[i]);
    case DType::BF16: return bf16_bits_to_f32(static_cast<const uint16_t*>(data_)[i]);
    default: return static_cast<const float*>(data_)[i];
  }
}

void FloatTensor::row_to_f32(size_t row, size_t row_length, float* out) const {
  convert_to_f32(dtype_, static_cast<const uint8_t*>(data_) + row * row_length * dtype_size(dtype_), row_length, out);
}

FloatTensor FloatTensor::to_f32() const {
  if (dtype_ == DType::F32) return *this;
  std::vector<float> values(size_);
  convert_to_f32(dtype_, static_cast<const uint8_t*>(data_), size_, values.data());
  return FloatTensor(shape_, std::move(values));
}

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path)
    : file_(std::make_shared<MappedFile>(path)), header_(parse_safetensors_header(file_->bytes(), path.string())) {}

std::span<const uint8_t> SafetensorsFile::tensor_bytes(const TensorInfo& info) const {
  return file_->bytes().subspan(header_.data_offset + info.begin, info.end - info.begin);
}

// ---------------------------------------------------------------------------------------------------------

Checkpoint Checkpoint::open(const std::filesystem::path& dir_or_file) {
  namespace fs = std::filesystem;
  Checkpoint ckpt;
  ckpt.source_ = dir_or_file;
  fs::path index;
  fs::path single;
  if (fs::is_directory(dir_or_file)) {
    if (fs::exists(dir_or_file / "model.safetensors.index.json")) index = dir_or_file / "model.safetensors.index.json";
    else if (fs::exists(dir_or_file / "model.safetensors")) single = dir_or_file / "model.safetensors";
    else
      throw ConfigError(dir_or_file.string() +
                        ": no model.safetensors or model.safetensors.index.json in this directory");
  } else if (!fs::exists(dir_or_file)) {
    throw ConfigError(dir_or_file.string() + ": no such file or directory");
  } else if (dir_or_file.filename().string().ends_with(".index.json")) {
    index = dir_or_file;
  } else {
    single = dir_or_file;
  }

  if (!single.empty()) {
    auto file = std::make_shared<SafetensorsFile>(single);
    for (const auto& t : file->header().tensors) ckpt.tensors_.emplace(t.name, Entry{&t, file.get()});
    ckpt.files_.push_back(std::move(file));
    return ckpt;
  }

  const std::string where = index.string();
  json doc;
  {
    std::ifstream in(index);
    if (!in) throw ConfigError(where + ": cannot open");
    try {
      doc = json::parse(in);
    } catch (const json::exception& e) {
      throw ConfigError(where + ": not valid JSON: " + e.what());
    }
  }
  auto wm = doc.is_object() ? doc.find("weight_map") : doc.end();
  if (wm == doc.end() || !wm->is_object()) throw ConfigError(where + ": weight_map: missing or not an object");
  std::map<std::string, std::shared_ptr<SafetensorsFile>> shards;
  for (const auto& [tensor, shard_value] : wm->items()) {
    if (!shard_value.is_string())
      throw ConfigError(where + ": weight_map: tensor '" + tensor + "': shard is not a file name");
    const std::string shard = shard_value.get<std::string>();
    const fs::path rel(shard);
    if (shard.empty() || rel.is_absolute() || std::any_of(rel.begin(), rel.end(), [](const fs::path& p) { return p == ".."; }))
      throw ConfigError(where + ": weight_map: tensor '" + tensor + "': shard '" + shard +
                        "' must be a file name inside the checkpoint directory");
    auto it = shards.find(shard);
    if (it == shards.end()) {
      const fs::path shard_path = index.parent_path() / rel;
      if (!fs::exists(shard_path))
        throw ConfigError(where + ": weight_map: tensor '" + tensor + "' is in shard '" + shard +
                          "', which is not there (" + shard_path.string() + ")");
      it = shards.emplace(shard, std::make_shared<SafetensorsFile>(shard_path)).first;
      ckpt.files_.push_back(it->second);
    }
    const TensorInfo* info = it->second->header().find(tensor);
    if (!info)
      throw ConfigError(where + ": weight_map: tensor '" + tensor + "' is not in shard '" + shard +
                        "' (" + it->second->path().string() + ")");
    ckpt.tensors_.emplace(tensor, Entry{info, it->second.get()});
  }
  return ckpt;
}

std::optional<Checkpoint::Entry> Checkpoint::find(std::string_view name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Checkpoint::tensor_names() const {
  std::vector<std::string> names;
  for (const auto& [n, e] : tensors_) names.push_back(n);
  return names;
}

void convert_to_f32(DType dtype, const uint8_t* bytes, size_t count, float* out) {
  if (count == 0) return;  // empty tensors may come with null pointers: memcpy must not see them (fuzzer finding)
  switch (dtype) {
    case DType::F32:
      std::memcpy(out, bytes, count * sizeof(float));
      return;
    case DType::F16: {
      // A 64K-entry table turns the conversion into one load per element.
      static const std::vector<float> table = [] {
        std::vector<float> t(65536);
        for (uint32_t i = 0; i < 65536; ++i) t[i] = f16_bits_to_f32(static_cast<uint16_t>(i));
        return t;
      }();
      for (size_t i = 0; i < count; ++i) {
        uint16_t h;
        std::memcpy(&h, bytes + 2 * i, 2);
        out[i] = table[h];
      }
      return;
    }
    case DType::BF16:
      for (size_t i = 0; i < count; ++i) {
        uint16_t b;
        std::memcpy(&b, bytes + 2 * i, 2);
        out[i] = bf16_bits_to_f32(b);
      }
      return;
    default:
      throw ConfigError("dtype " + std::string(dtype_name(dtype)) + " cannot be converted to fp32");
  }
}

namespace {

const TensorInfo& checked_tensor(const std::optional<Checkpoint::Entry>& entry, const std::filesystem::path& source,
                                 const std::string& name, const std::vector<int64_t>& expected_shape,
                                 const std::string& why) {
  const std::string because = why.empty() ? "" : " (" + why + ")";
  if (!entry)
    throw ConfigError(source.string() + ": tensor '" + name + "' is missing (expected shape " +
                      shape_string(expected_shape) + because + ")");
  const TensorInfo& info = *entry->info;
  const std::string file = entry->file->path().string();
  if (info.shape != expected_shape)
    fail_tensor(file, name, "has shape " + shape_string(info.shape) + ", expected " + shape_string(expected_shape) + because);
  if (info.dtype != DType::F32 && info.dtype != DType::F16 && info.dtype != DType::BF16)
    fail_tensor(file, name, "has dtype " + std::string(dtype_name(info.dtype)) + "; weights must be F32, F16 or BF16");
  return info;
}

}  // namespace

FloatTensor Checkpoint::load_f32(const std::string& name, const std::vector<int64_t>& expected_shape,
                                 const std::string& why) const {
  const auto entry = find(name);
  const TensorInfo& info = checked_tensor(entry, source_, name, expected_shape, why);
  const auto bytes = entry->file->tensor_bytes(info);
  if (info.dtype == DType::F32 && reinterpret_cast<uintptr_t>(bytes.data()) % alignof(float) == 0)
    return FloatTensor(info.shape, DType::F32, bytes.data(), entry->file->mapping());
  std::vector<float> values(static_cast<size_t>(info.numel()));
  convert_to_f32(info.dtype, bytes.data(), values.size(), values.data());
  return FloatTensor(info.shape, std::move(values));
}

FloatTensor Checkpoint::load_float(const std::string& name, const std::vector<int64_t>& expected_shape,
                                   const std::string& why) const {
  const auto entry = find(name);
  const TensorInfo& info = checked_tensor(entry, source_, name, expected_shape, why);
  const auto bytes = entry->file->tensor_bytes(info);
  if (reinterpret_cast<uintptr_t>(bytes.data()) % dtype_size(info.dtype) == 0)
    return FloatTensor(info.shape, info.dtype, bytes.data(), entry->file->mapping());
  return load_f32(name, expected_shape, why);  // misaligned (odd header length): an aligned fp32 copy
}

}  // namespace wafersim::models
