// A process-wide table of interned strings: names that every PE running the same program repeats (task labels,
// ledger claimants) are stored once and shared by pointer. Entries live until the process ends; thread-safe.
#pragma once
#include <string>

namespace wafersim {

// The table's copy of `s` (the same pointer for equal strings); never null, never moves.
const std::string* intern(std::string s);

}  // namespace wafersim
