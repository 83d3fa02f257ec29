#include "firmware/csl/ledger.hpp"

#include <stdexcept>

#include "common/error.hpp"
#include "common/intern.hpp"

namespace wafersim::csl {

const char* to_string(Resource r) {
  switch (r) {
    case Resource::InputQueue: return "input queue";
    case Resource::OutputQueue: return "output queue";
    case Resource::Microthread: return "microthread";
    case Resource::TaskId: return "task ID";
  }
  return "?";
}

int ResourceLedger::index_of(const std::string& claimant) {
  for (std::size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == &claimant || *names_[i] == claimant) return int(i);
  if (names_.size() >= 127) throw std::logic_error("resource ledger: more than 127 claimants on one PE");
  if (names_.empty()) names_.reserve(4);  // a program and its few modules
  names_.push_back(intern(claimant));
  return int(names_.size()) - 1;
}

void ResourceLedger::claim(Resource r, int id, const std::string& claimant) {
  if (id < 0 || id >= slots(r))
    throw ConfigError(claimant + ": " + to_string(r) + " " + std::to_string(id) + " does not exist (0.." +
                      std::to_string(slots(r) - 1) + ")");
  const auto who = std::int8_t(index_of(claimant));
  std::int8_t& owner = owner_[slot(r, id)];
  if (owner < 0) owner = who;
  else conflicts_.push_back({r, std::int8_t(id), owner, who});
}

const std::string& ResourceLedger::holder(Resource r, int id) const {
  static const std::string none;
  const int o = taken(r, id) ? owner_[slot(r, id)] : -1;
  return o < 0 ? none : *names_[std::size_t(o)];
}

std::string ResourceLedger::held(Resource r) const {
  std::string s;
  for (std::size_t who = 0; who < names_.size(); ++who) {
    std::string ids;
    for (int id = 0; id < slots(r); ++id)
      if (owner_[slot(r, id)] == int(who)) ids += (ids.empty() ? "" : ",") + std::to_string(id);
    if (!ids.empty()) s += (s.empty() ? "" : "; ") + ids + " by " + *names_[who];
  }
  return s.empty() ? "none" : s;
}

void ResourceLedger::check(const std::string& pe) const {
  if (conflicts_.empty()) return;
  const Conflict& c = conflicts_.front();
  throw std::invalid_argument(pe + ": " + to_string(c.r) + " " + std::to_string(c.id) + " claimed by " +
                    *names_[std::size_t(c.first)] + " and " + *names_[std::size_t(c.second)]);
}

}  // namespace wafersim::csl
