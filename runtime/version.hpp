// Build identification stamped into every result file.
#pragma once
namespace wafersim {
const char* git_revision();
}
