// The parameter reference (docs/parameters.md), generated from the one parameter table in hw/arch_params.cpp
// with the values of the WSE-2 and WSE-3 presets, so that documentation and code cannot drift apart.
#pragma once
#include <string>

#include "hw/arch_params.hpp"

namespace wafersim::runtime {

std::string parameter_reference_markdown(const hw::ArchParams& wse2, const hw::ArchParams& wse3);

}  // namespace wafersim::runtime
