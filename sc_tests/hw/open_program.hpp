// Test helper: a Program whose CSL builtins are public, so that test bodies (lambdas) can call them.
#pragma once
#include <functional>

#include "firmware/csl/program.hpp"

namespace wafersim::test {

struct OpenProgram : csl::Program {
  using Program::activate, Program::block, Program::unblock, Program::set_priority, Program::now, Program::charge;
  using Program::map;
  using Program::add16, Program::sub16, Program::and16, Program::or16, Program::xor16;
  using Program::fabin, Program::fabout, Program::export_function, Program::send_control;
  using Program::fmach, Program::fmachs, Program::fmacs, Program::faddh, Program::fadds, Program::fsubh,
      Program::fsubs, Program::fmulh, Program::fmuls, Program::fmaxh, Program::fmaxs, Program::fmovh,
      Program::fmovs, Program::fnegh, Program::fnegs, Program::mov16, Program::mov32, Program::fh2s, Program::fs2h;
};

}  // namespace wafersim::test
