// The `wafersim` command line: a registry of subcommands. Each subcommand lives in its own file under
// runtime/cli/ (or bench/) and registers itself with a static CommandRegistration.
#pragma once
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace wafersim::cli {

// A subcommand receives its own arguments (argv[0] is "wafersim <name>") and returns the process exit code.
using CommandFn = std::function<int(int argc, char** argv)>;

struct Command {
  std::string name;     // e.g. "generate" or "bench fabric"
  std::string summary;  // one line for `wafersim --help`
  CommandFn run;
};

std::map<std::string, Command>& registry();

struct CommandRegistration {
  CommandRegistration(std::string name, std::string summary, CommandFn fn);
};

// Error a subcommand throws for bad user input: printed as "wafersim: <message>", exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace wafersim::cli
