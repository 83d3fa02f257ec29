#include "hw/sram.hpp"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "common/error.hpp"

namespace wafersim::hw {

Sram::Sram(std::uint32_t capacity, std::uint32_t reserved, bool functional)
    : capacity_(capacity), reserved_(reserved), top_(reserved), functional_(functional) {
  if (reserved > capacity)
    throw CapacityError("SRAM reserve of " + std::to_string(reserved) + " bytes exceeds capacity " +
                        std::to_string(capacity));
}

const SramSymbol& Sram::allocate(const std::string& owner, const std::string& symbol, std::uint64_t bytes,
                                 std::uint32_t align) {
  std::uint64_t start = (std::uint64_t(top_) + align - 1) / align * align;
  if (start + bytes > capacity_) {
    throw CapacityError(owner + ": symbol '" + symbol + "' needs " + std::to_string(bytes) + " bytes but only " +
                        std::to_string(start >= capacity_ ? 0 : capacity_ - start) + " of " +
                        std::to_string(capacity_) + " bytes of SRAM are free (" + std::to_string(reserved_) +
                        " reserved for code, " + std::to_string(top_ - reserved_) + " already allocated" +
                        largest_symbols() + ")");
  }
  symbols_.push_back({symbol, static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(bytes)});
  top_ = static_cast<std::uint32_t>(start + bytes);
  return symbols_.back();
}

// ", the largest: 'a' 4096, 'b' 2048, 'c' 1024 bytes" (up to three; "" when nothing is allocated).
std::string Sram::largest_symbols() const {
  std::vector<const SramSymbol*> by_size;
  for (const auto& s : symbols_) by_size.push_back(&s);
  const std::size_t n = std::min<std::size_t>(3, by_size.size());
  std::partial_sort(by_size.begin(), by_size.begin() + std::ptrdiff_t(n), by_size.end(),
                    [](const SramSymbol* a, const SramSymbol* b) { return a->bytes > b->bytes; });
  std::string out;
  for (std::size_t i = 0; i < n; ++i)
    out += (i ? ", '" : ", the largest: '") + by_size[i]->name + "' " + std::to_string(by_size[i]->bytes);
  return n ? out + " bytes" : out;
}

const SramSymbol* Sram::find(const std::string& symbol) const {
  for (const auto& s : symbols_)
    if (s.name == symbol) return &s;
  return nullptr;
}

void Sram::check_range(std::uint32_t addr, std::uint32_t bytes) const {
  if (std::uint64_t(addr) + bytes > capacity_)
    throw std::out_of_range("SRAM access [" + std::to_string(addr) + ", +" + std::to_string(bytes) +
                            ") beyond capacity " + std::to_string(capacity_));
}

void Sram::read(std::uint32_t addr, void* dst, std::uint32_t bytes) const {
  check_range(addr, bytes);
  if (functional_ && bytes_) std::memcpy(dst, bytes_.get() + addr, bytes);
  else std::memset(dst, 0, bytes);
}

void Sram::write(std::uint32_t addr, const void* src, std::uint32_t bytes) {
  check_range(addr, bytes);
  if (std::uint8_t* p = data()) std::memcpy(p + addr, src, bytes);
}

std::uint8_t* Sram::data() {
  if (!functional_) return nullptr;
  if (!bytes_) bytes_ = std::make_unique<std::uint8_t[]>(capacity_);  // zero-initialised
  return bytes_.get();
}

}  // namespace wafersim::hw
