// Umbrella header of the CSL-like firmware API: include this in a kernel or example program.
// See docs/firmware.md for the user guide (tasks, DSDs, builtins, async options, layouts, timing rules).
#pragma once
#include "firmware/csl/layout.hpp"
#include "firmware/csl/program.hpp"
#include "common/fp16.hpp"
#include "hw/route_config.hpp"
#include "hw/wavelet.hpp"
