// `wafersim params`: the hardware parameters with their values, units, ranges and provenance.
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
      ("arch", po::value(&sim.arch_file)->default_value(runtime::default_config_file("wse2.yaml")), "architecture YAML to resolve")
      ("set", po::value(&sim.overrides)->composing(), "override a parameter (repeatable)")
      ("markdown", po::bool_switch(&markdown), "print the reference table of WSE-2 and WSE-3 (docs/parameters.md)")
      ("wse3", po::value(&wse3_file)->default_value(runtime::default_config_file("wse3.yaml")), "with --markdown: the WSE-3 preset");
  po::variables_map vm;
  if (!cli::parse_options(argc, argv, desc, vm, "[--arch FILE] [--set KEY=VALUE ...] [--markdown]")) return 0;
  const hw::ArchParams arch = sim.arch();
  if (markdown) {
    std::cout << runtime::parameter_reference_markdown(arch, hw::load_arch(wse3_file));
    return 0;
  }
  std::cout << hw::to_json(arch).dump(2) << "\n";
  return 0;
}

const cli::CommandRegistration reg("params", "print the resolved hardware parameters (or the reference table)", params);

}  // namespace
}  // namespace wafersim
