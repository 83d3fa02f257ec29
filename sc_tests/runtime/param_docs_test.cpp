#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "runtime/param_docs.hpp"

using namespace wafersim;

TEST(ParameterReference, DocsMatchTheParameterTable) {
  const std::string src = WAFERSIM_SOURCE_DIR;
  const std::string want =
      runtime::parameter_reference_markdown(hw::load_arch(src + "/configs/wse2.yaml"), hw::load_arch(src + "/configs/wse3.yaml"));
  std::ifstream in(src + "/docs/parameters.md");
  std::stringstream have;
  have << in.rdbuf();
  EXPECT_EQ(have.str(), want) << "docs/parameters.md is out of date: run "
                                 "`build/wafersim params --markdown > docs/parameters.md`";
}

TEST(ParameterReference, EveryParameterHasUnitOrRangeAndProvenance) {
  for (const auto& p : hw::arch_param_table()) {
    EXPECT_FALSE(p.range.empty()) << p.key;
    // "fitted" is reserved for values fitted to the paper's numbers (bench/calibrate.sh).
    EXPECT_TRUE(p.provenance == "published" || p.provenance == "assumption" || p.provenance == "simulator" ||
                p.provenance == "fitted (WSE-2: bench/calibrate.sh, paper GEMV 16K/32K) / assumption (WSE-3)")
        << p.key;
    EXPECT_FALSE(p.doc.empty()) << p.key;
  }
}
