#include "runtime/cli/options.hpp"

#include <iostream>

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

}  // namespace wafersim::cli
