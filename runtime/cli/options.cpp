#include "runtime/cli/options.hpp"

#include <filesystem>
#include <iostream>
#include <regex>
#include <sstream>

#include "common/error.hpp"
#include "runtime/version.hpp"

namespace wafersim::cli {

bool parse_options(int argc, char** argv, po::options_description& desc, po::variables_map& vm,
                   const std::string& usage, const po::positional_options_description* positional) {
  desc.add_options()("help,h", "print this help")("version", "print the version and build type");
  try {
    po::command_line_parser parser(argc, argv);
    parser.options(desc);
    // Without a positional description Boost drops stray words ("--len 64 128" ran with 64); an empty one makes
    // them an error, reported below with the word itself.
    const po::positional_options_description none;
    parser.positional(positional ? *positional : none);
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: " << argv[0] << " " << usage << "\n\n" << desc << "\n";
      return false;
    }
    if (vm.count("version")) {
      std::cout << version_line() << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::too_many_positional_options_error&) {
    // Report the first word that is not an option or an option's value.
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a.size() > 1 && a.rfind("-", 0) == 0) {  // a lone "-" is a word (standard output), not an option
        // an option: skip its value unless it is a switch or written --name=value
        if (a.find('=') != std::string::npos) continue;
        const std::string name = a.substr(a.find_first_not_of('-'));
        const po::option_description* d = desc.find_nothrow(name, false);
        if (d && d->semantic()->max_tokens() > 0 && i + 1 < argc) ++i;
        continue;
      }
      throw UsageError("unexpected argument '" + a + "': every value follows its option (--name VALUE); see " +
                       std::string(argv[0]) + " --help");
    }
    throw UsageError("unexpected argument; see " + std::string(argv[0]) + " --help");
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  return true;
}

std::vector<std::string> command_line(int argc, char** argv) {
  std::vector<std::string> words;
  std::istringstream first(argc > 0 ? argv[0] : "");
  for (std::string w; first >> w;) words.push_back(w);
  for (int i = 1; i < argc; ++i) words.emplace_back(argv[i]);
  return words;
}

void require_file(const std::string& option, const std::string& path, const std::string& expected) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  const std::string what = option + " " + path + ": ";
  if (status.type() == std::filesystem::file_type::directory)
    throw ConfigError(what + "is a directory; expected " + expected);
  if (!std::filesystem::exists(status)) throw ConfigError(what + "no such file; expected " + expected);
  if (!std::filesystem::is_regular_file(status)) throw ConfigError(what + "not a regular file; expected " + expected);
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
