#include "runtime/version.hpp"

namespace wafersim {
const char* git_revision() { return WAFERSIM_GIT_REV; }
}  // namespace wafersim
