// Shared option handling for subcommands: Boost.Program_options with --help on every subcommand, unknown
// options and bad values reported as UsageError (exit 2).
#pragma once
#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "runtime/cli/command.hpp"

namespace wafersim::cli {

namespace po = boost::program_options;

// Parses argv against `desc` (a --help switch is added). Returns false if --help was printed; the caller
// then returns 0. `usage` is the synopsis line printed above the options.
bool parse_options(int argc, char** argv, po::options_description& desc, po::variables_map& vm,
                   const std::string& usage, const po::positional_options_description* positional = nullptr);

// Parses a list of non-negative integers such as "1,2, 3" or "0-3,7" given to `option` (named in errors).
// An empty or blank text is an empty list only if `allow_empty`.
std::vector<int> parse_int_list(const std::string& text, const std::string& option, bool allow_empty = false);

}  // namespace wafersim::cli
