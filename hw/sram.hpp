// Per-PE SRAM (48 KB on WSE-2/3): capacity is always enforced; contents exist only in functional mode and are
// allocated lazily on first write (the full WSE-2 SRAM, 34.5 GiB, does not fit this machine).
// Not modelled here: bank-conflict timing (the compute engine may charge it, see PeParams::bank_conflicts).
#pragma once
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace wafersim::hw {

struct SramSymbol {
  std::string name;
  std::uint32_t offset = 0;  // byte address in this PE's SRAM
  std::uint32_t bytes = 0;
};

class Sram {
 public:
  // `reserved` bytes at address 0 hold code and runtime; symbols are allocated above them.
  Sram(std::uint32_t capacity, std::uint32_t reserved, bool functional);

  std::uint32_t capacity() const { return capacity_; }
  std::uint32_t used() const { return top_; }
  bool functional() const { return functional_; }

  // Allocates `bytes` (aligned to `align`) for a named symbol. Throws CapacityError naming `owner` (e.g.
  // "PE(3,4) program mesh_gemv"), the symbol and the byte counts when it does not fit. `bytes` is 64-bit so that
  // a symbol of 4 GiB or more fails here instead of wrapping to a small size.
  const SramSymbol& allocate(const std::string& owner, const std::string& symbol, std::uint64_t bytes,
                             std::uint32_t align = 4);
  const SramSymbol* find(const std::string& symbol) const;
  void release_all() { top_ = reserved_, symbols_.clear(); }  // every symbol freed (a layout unloaded); bytes stay
  const std::vector<SramSymbol>& symbols() const { return symbols_; }

  // Raw access (functional mode only; in timing-only mode reads return zeros and writes are dropped).
  void read(std::uint32_t addr, void* dst, std::uint32_t bytes) const;
  void write(std::uint32_t addr, const void* src, std::uint32_t bytes);
  // Direct pointer for DMI-style access; allocates the backing store. nullptr in timing-only mode.
  std::uint8_t* data();

 private:
  void check_range(std::uint32_t addr, std::uint32_t bytes) const;
  std::string largest_symbols() const;  // for the capacity error
  std::uint32_t capacity_, reserved_, top_;
  bool functional_;
  std::unique_ptr<std::uint8_t[]> bytes_;
  std::vector<SramSymbol> symbols_;
};

}  // namespace wafersim::hw
