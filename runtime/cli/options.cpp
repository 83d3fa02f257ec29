#include "runtime/cli/options.hpp"

#include <iostream>
#include <regex>

namespace wafersim::cli {

bool parse_options(int argc, char** argv, po::options_description& desc, po::variables_map& vm,
                   const std::string& usage, const po::positional_options_description* positional) {
  desc.add_options()("help,h", "print this help");
  try {
    po::command_line_parser parser(argc, argv);
    parser.options(desc);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: " << argv[0] << " " << usage << "\n\n" << desc << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  return true;
}

std::vector<int> parse_int_list(const std::string& text, const std::string& option, bool allow_empty) {
  std::vector<int> out;
  if (text.find_first_not_of(" \t") == std::string::npos) {
    if (allow_empty) return out;
    throw UsageError(option + ": expected a comma-separated list of integers");
  }
  static const std::regex item(R"(^\s*(\d{1,9})\s*(?:-\s*(\d{1,9})\s*)?$)");
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    const std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    std::smatch m;
    if (!std::regex_match(part, m, item))
      throw UsageError(option + " " + text + ": \"" + part + "\" is not a non-negative integer or a range a-b");
    const int lo = std::stoi(m[1]), hi = m[2].matched ? std::stoi(m[2]) : lo;
    if (hi < lo) throw UsageError(option + " " + text + ": range " + part + " is empty");
    for (int v = lo; v <= hi; ++v) out.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace wafersim::cli
