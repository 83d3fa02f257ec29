// Error types shared by every layer. Messages name the file/field and the limit, so that the CLI can print
// them as they are.
#pragma once
#include <stdexcept>
#include <string>

namespace wafersim {

// Bad configuration or input file: "<file>: <key>: <what was expected>".
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A resource limit of the modelled hardware was exceeded (SRAM, colours, queues).
struct CapacityError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The simulation stopped because nothing could move while work was pending.
struct DeadlockError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace wafersim
