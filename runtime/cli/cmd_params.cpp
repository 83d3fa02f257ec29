// `wafersim params`: the resolved hardware parameters as YAML, each value with its unit, range and provenance; the
// output is itself an architecture file (--arch reads it back to the same parameters). Or the reference table.
#include <iostream>

#include "runtime/cli/options.hpp"
#include "runtime/param_docs.hpp"
#include "runtime/sim_options.hpp"

namespace wafersim {
namespace {

int params(int argc, char** argv) {
  namespace po = boost::program_options;
  runtime::SimOptions sim;
  bool markdown = false;
  std::string wse3_file;
  po::options_description desc("options");
  desc.add_options()
      ("arch", po::value(&sim.arch_file)->default_value("wse2"), "architecture to resolve: a preset (wse2, wse3) or a YAML/JSON file")
      ("set", po::value(&sim.overrides)->composing(), "override a parameter (repeatable)")
      ("markdown", po::bool_switch(&markdown), "print the reference table of WSE-2 and WSE-3 (docs/parameters.md)")
      ("wse3", po::value(&wse3_file)->default_value("wse3"), "with --markdown: the WSE-3 preset");
  po::variables_map vm;
  if (!cli::parse_options(argc, argv, desc, vm, "[--arch NAME|FILE] [--set KEY=VALUE ...] [--markdown]")) return 0;
  const hw::ArchParams arch = sim.arch();
  if (markdown) {
    std::cout << runtime::parameter_reference_markdown(arch, hw::load_arch(runtime::arch_file_path(wse3_file)));
    return 0;
  }
  std::cout << hw::to_yaml(arch);
  return 0;
}

const cli::CommandRegistration reg("params", "print the resolved hardware parameters (or the reference table)", params);

}  // namespace
}  // namespace wafersim
