#include "common/intern.hpp"

#include <mutex>
#include <unordered_set>

namespace wafersim {

const std::string* intern(std::string s) {
  static std::mutex mu;
  static std::unordered_set<std::string> table;
  std::lock_guard lock(mu);
  return &*table.insert(std::move(s)).first;
}

}  // namespace wafersim
