// Values that many PEs hold identically, stored once. intern(): a process-wide table of strings (task labels,
// ledger claimants), entries live until the process ends. share(): immutable values of any type (a role's program
// code, a module's DSDs), one copy per distinct content while any holder lives. Both thread-safe.
#pragma once
#include <algorithm>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace wafersim {

// The table's copy of `s` (the same pointer for equal strings; no allocation when it is there); never null, never
// moves.
const std::string* intern(const std::string& s);

// The live copy equal to `value` if a holder still has one, else `value`, stored for the next caller. T needs
// operator== and `std::size_t hash() const`. Freed with its last holder (the table keeps weak references and drops
// expired ones as it grows).
template <class T>
std::shared_ptr<const T> share(T value) {
  static std::mutex mu;
  static std::unordered_multimap<std::size_t, std::weak_ptr<const T>> table;
  static std::size_t sweep_at = 64;
  const std::size_t h = value.hash();
  std::lock_guard lock(mu);
  for (auto [it, end] = table.equal_range(h); it != end; ++it)
    if (auto held = it->second.lock(); held && *held == value) return held;
  if (table.size() >= sweep_at) {
    std::erase_if(table, [](const auto& e) { return e.second.expired(); });
    sweep_at = std::max<std::size_t>(64, 2 * table.size());
  }
  auto copy = std::make_shared<const T>(std::move(value));
  table.emplace(h, copy);
  return copy;
}

// Hash combining for hash() members.
inline void hash_mix(std::size_t& h, std::size_t v) { h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2); }

}  // namespace wafersim
