// `wafersim` entry point: dispatches to registered subcommands ("generate", "bench fabric", ...).
#include "runtime/cli/command.hpp"

#include <cstdlib>
#include <exception>
#include <iostream>
#include <stdexcept>

#include "runtime/version.hpp"

namespace wafersim::cli {

std::map<std::string, Command>& registry() {
  static std::map<std::string, Command> commands;
  return commands;
}

CommandRegistration::CommandRegistration(std::string name, std::string summary, CommandFn fn) {
  registry().emplace(name, Command{name, std::move(summary), std::move(fn)});
}

}  // namespace wafersim::cli

namespace {
void print_help() {
  std::cout << "wafersim: an open SystemC/TLM-2.0 model of the Cerebras WSE fabric running WaferLLM kernels\n\n"
               "usage: wafersim <command> [options]   (wafersim <command> --help for its options)\n"
               "       wafersim --version            (version, git revision and build type)\n\ncommands:\n";
  for (const auto& [name, cmd] : wafersim::cli::registry()) {
    std::cout << "  " << name;
    for (size_t i = name.size(); i < 22; ++i) std::cout << ' ';
    std::cout << cmd.summary << "\n";
  }
}
}  // namespace

int main(int argc, char** argv) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
  auto& reg = wafersim::cli::registry();
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" ||
      std::string(argv[1]) == "help") {
    print_help();
    return argc < 2 ? 2 : 0;
  }
  if (std::string(argv[1]) == "--version") {
    std::cout << wafersim::version_line() << "\n";
    return 0;
  }
  // Two-word commands ("bench fabric") take precedence over one-word ones.
  std::string name = argv[1];
  int consumed = 2;
  if (argc >= 3 && reg.count(name + " " + argv[2])) {
    name += std::string(" ") + argv[2];
    consumed = 3;
  }
  auto it = reg.find(name);
  if (it == reg.end()) {
    bool group = false;
    for (const auto& [n, c] : reg) group = group || n.rfind(name + " ", 0) == 0;
    if (group) {
      std::cerr << "wafersim " << name << ": expected one of:";
      for (const auto& [n, c] : reg)
        if (n.rfind(name + " ", 0) == 0) std::cerr << " " << n.substr(name.size() + 1);
      std::cerr << "\n";
      return 2;
    }
    std::cerr << "wafersim: unknown command '" << name << "' (try wafersim --help)\n";
    return 2;
  }
  std::string prog = "wafersim " + name;
  std::vector<char*> args;
  args.push_back(prog.data());
  for (int i = consumed; i < argc; ++i) args.push_back(argv[i]);
  try {
    return it->second.run(static_cast<int>(args.size()), args.data());
  } catch (const wafersim::cli::UsageError& e) {
    std::cerr << prog << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << prog << ": error: " << e.what() << "\n";
    return 1;
  }
}

// libsystemc references sc_main; wafersim elaborates and calls sc_start from its subcommands.
extern "C" int sc_main(int, char**) { return 0; }
