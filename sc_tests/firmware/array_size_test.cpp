// Array sizes are counted in 64 bits: an array of 4 GiB or more is refused by the SRAM with its true size instead
// of wrapping to a small byte count that fits (2^30 floats used to be 0 bytes).
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "fabric/fabric.hpp"
#include "firmware/examples/examples.hpp"

using namespace wafersim;

TEST(ArraySize, FourGibibyteArrayIsRefusedWithItsTrueSize) {
  fabric::Fabric f(hw::ArchParams{}, 1, 1);
  auto layout = examples::gemv_layout(65536, 16384);  // A: 2^30 floats = 4294967296 bytes
  try {
    layout->load(f);
    FAIL() << "no error";
  } catch (const CapacityError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("'A' needs 4294967296 bytes"), std::string::npos) << m;
  }
}
