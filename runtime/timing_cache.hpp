// The on-disk cache of unit simulations of the timing-only paths (runtime/decode_timing.hpp,
// runtime/prefill_timing.hpp): one small JSON file per entry, {"key": KEY, "cycles": N}, named
// "<prefix>-<FNV-1a 64 of KEY>.json" in the cache directory and written atomically (common/atomic_file.hpp), so
// concurrent runs never read a half-written entry. The caller builds KEY (a JSON dump holding everything the cycles
// depend on: the kernel, its version, the shape and every arch parameter, hw::to_json); a hit must match the whole
// key (a hash collision or an unreadable file is a miss).
// Not modelled: eviction (entries are tens of bytes; delete the directory to clear it).
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace wafersim::runtime {

// $WAFERSIM_CACHE_DIR, else $XDG_CACHE_HOME/wafersim, else ~/.cache/wafersim (ConfigError if none is set).
std::filesystem::path timing_cache_dir();

class TimingCache {
 public:
  // `dir` empty: no cache (nothing is read or written).
  TimingCache(std::filesystem::path dir, std::string prefix);
  std::optional<std::uint64_t> get(const std::string& key) const;
  void put(const std::string& key, std::uint64_t cycles) const;
  bool enabled() const { return !dir_.empty(); }

 private:
  std::filesystem::path file(const std::string& key) const;
  std::filesystem::path dir_;
  std::string prefix_;
};

}  // namespace wafersim::runtime
