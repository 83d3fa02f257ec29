#include "runtime/timing_cache.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/atomic_file.hpp"
#include "common/error.hpp"

namespace wafersim::runtime {
namespace {

std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

std::filesystem::path timing_cache_dir() {
  if (const char* d = std::getenv("WAFERSIM_CACHE_DIR"); d && *d) return d;
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) return std::filesystem::path(d) / "wafersim";
  if (const char* d = std::getenv("HOME"); d && *d) return std::filesystem::path(d) / ".cache" / "wafersim";
  throw ConfigError("timing cache: none of WAFERSIM_CACHE_DIR, XDG_CACHE_HOME and HOME is set");
}

nlohmann::json timing_arch_key(const hw::ArchParams& arch) {
  nlohmann::json j = hw::to_json(arch);
  j.erase("simulation");
  j.erase("source");
  return j;
}

TimingCache::TimingCache(std::filesystem::path dir, std::string prefix)
    : dir_(std::move(dir)), prefix_(std::move(prefix)) {}

std::filesystem::path TimingCache::file(const std::string& key) const {
  char hash[20];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(fnv1a(key)));
  return dir_ / (prefix_ + "-" + hash + ".json");
}

std::optional<nlohmann::json> TimingCache::entry(const std::string& key) const {
  if (dir_.empty()) return {};
  std::ifstream in(file(key));
  if (!in) return {};
  try {
    nlohmann::json j = nlohmann::json::parse(in);
    if (j.at("key").get<std::string>() == key && j.at("cycles").is_number_unsigned()) return j;
  } catch (const nlohmann::json::exception&) {
  }
  return {};  // unreadable or a hash collision: simulate again
}

std::optional<std::uint64_t> TimingCache::get(const std::string& key) const {
  if (const auto j = entry(key)) return j->at("cycles").get<std::uint64_t>();
  return {};
}

void TimingCache::put(const std::string& key, std::uint64_t cycles, const nlohmann::json& extra) const {
  if (dir_.empty()) return;
  std::filesystem::create_directories(dir_);
  nlohmann::json entry = extra;
  entry["key"] = key;
  entry["cycles"] = cycles;
  write_file_atomically(file(key), [&](std::ostream& os) { os << entry.dump() << "\n"; });
}

}  // namespace wafersim::runtime
