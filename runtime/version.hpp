// Build identification: printed by `wafersim --version` and stamped into every result file.
#pragma once
#include <string>

namespace wafersim {
const char* git_revision();     // short hash, "-dirty" with local changes, "unknown" outside git
const char* build_type();       // CMAKE_BUILD_TYPE of this build, e.g. RelWithDebInfo
const char* wafersim_version();  // the project version, e.g. 0.1.0
// "wafersim 0.1.0 (git 1547de3, RelWithDebInfo build)"
std::string version_line();
}  // namespace wafersim
