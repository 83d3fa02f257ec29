#include "common/intern.hpp"

#include <mutex>
#include <unordered_set>

namespace wafersim {

const std::string* intern(const std::string& s) {
  static std::mutex mu;
  static std::unordered_set<std::string> table;
  std::lock_guard lock(mu);
  if (const auto it = table.find(s); it != table.end()) return &*it;
  return &*table.insert(s).first;
}

}  // namespace wafersim
