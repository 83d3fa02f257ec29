// The on-disk cache of unit simulations of the timing-only paths (runtime/decode_timing.hpp,
// runtime/prefill_timing.hpp): one small JSON file per entry, {"key": KEY, "cycles": N}, named
// "<prefix>-<FNV-1a 64 of KEY>.json" (plus any extra fields the caller stores) in the cache directory and written atomically (common/atomic_file.hpp), so
// concurrent runs never read a half-written entry. The caller builds KEY (a JSON dump holding everything the cycles
// depend on: the kernel, its version, the shape and the arch, timing_arch_key); a hit must match the whole key (a
// hash collision or an unreadable file is a miss).
// Not modelled: eviction (entries are tens of bytes; delete the directory to clear it).
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "hw/arch_params.hpp"

namespace wafersim::runtime {

// $WAFERSIM_CACHE_DIR, else $XDG_CACHE_HOME/wafersim, else ~/.cache/wafersim (ConfigError if none is set).
std::filesystem::path timing_cache_dir();

// The arch part of a key: hw::to_json(arch) without what does not change simulated cycles, the host-only settings
// (simulation.*: host threads, huge pages, cycle blocks, ...) and the file the parameters were read from (source).
nlohmann::json timing_arch_key(const hw::ArchParams& arch);

class TimingCache {
 public:
  // `dir` empty: no cache (nothing is read or written).
  TimingCache(std::filesystem::path dir, std::string prefix);
  // The stored entry ({"key", "cycles"} and the caller's extra fields), or nothing (a miss).
  std::optional<nlohmann::json> entry(const std::string& key) const;
  std::optional<std::uint64_t> get(const std::string& key) const;
  // `extra`: further fields of the entry (e.g. decode's layer ends), read back with entry().
  void put(const std::string& key, std::uint64_t cycles, const nlohmann::json& extra = nlohmann::json::object()) const;
  bool enabled() const { return !dir_.empty(); }

 private:
  std::filesystem::path file(const std::string& key) const;
  std::filesystem::path dir_;
  std::string prefix_;
};

}  // namespace wafersim::runtime
