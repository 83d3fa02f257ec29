#include "hw/sram.hpp"

#include <stdexcept>

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
                        " reserved for code, " + std::to_string(top_ - reserved_) + " already allocated)");
  }
  symbols_.push_back({symbol, static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(bytes)});
  top_ = static_cast<std::uint32_t>(start + bytes);
  return symbols_.back();
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
