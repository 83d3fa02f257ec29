#include "runtime/version.hpp"

#include "git_rev.h"

namespace wafersim {
const char* git_revision() { return WAFERSIM_GIT_REV; }
const char* build_type() { return WAFERSIM_BUILD_TYPE; }
const char* wafersim_version() { return WAFERSIM_VERSION; }
std::string version_line() {
  return std::string("wafersim ") + wafersim_version() + " (git " + git_revision() + ", " + build_type() + " build)";
}
}  // namespace wafersim
