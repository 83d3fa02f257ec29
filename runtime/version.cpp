#include "runtime/version.hpp"

#include "git_rev.h"

namespace wafersim {
const char* git_revision() { return WAFERSIM_GIT_REV; }
}  // namespace wafersim
