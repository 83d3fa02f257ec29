// The type-generic builtins (fmov, fadd, fmax, fmac) pick the f16 or f32 operation from their operands' element
// types, as the typed ones would compute; mixed or unknown types are errors naming the program.
#include <gtest/gtest.h>

#include <functional>

#include "sc_tests/hw/single_pe.hpp"

using namespace wafersim;
using csl::f16;

namespace {
struct Generic : csl::Program {
  using Program::fmov, Program::fadd, Program::fmax, Program::fmac, Program::fabin, Program::fabout;
  csl::Array<float> a{this, "a", 4}, b{this, "b", 4}, d{this, "d", 4};
  csl::Array<f16> ha{this, "ha", 4}, hb{this, "hb", 4}, hd{this, "hd", 4};
  std::function<void()> body;
  csl::LocalTask main{this, 5, [this] { body(); }, "main"};
  void init() override { activate(main); }
};
std::vector<f16> halves(std::initializer_list<float> v) {
  std::vector<f16> h;
  for (float x : v) h.push_back(f16(x));
  return h;
}
}  // namespace

TEST(GenericBuiltins, DispatchOnTheOperandsElementType) {
  test::SinglePe pe;
  Generic p;
  p.body = [&] {
    p.fadd(p.d, p.a, p.b);        // fadds
    p.fadd(p.hd, p.ha, p.hb);     // faddh: 2048 + 1 rounds to 2048 in fp16
    p.fmax(p.b, p.a, p.b);        // fmaxs
    p.fmac(p.a, p.a, p.ha, f16(2.0f));  // fmachs: f32 + f16 * 2
    p.fmov(p.hb, p.hd);           // fmovh
  };
  pe.load(p);
  p.a.write(std::vector<float>{1, 2, 3, 4});
  p.b.write(std::vector<float>{10, -20, 30, -40});
  p.ha.write(halves({2048, 0.5f, -1, 3}));
  p.hb.write(halves({1, 0.25f, 1, 1}));
  pe.run();
  EXPECT_EQ(p.d.read(), (std::vector<float>{11, -18, 33, -36}));
  const auto hd = p.hd.read();
  EXPECT_EQ(hd[0].to_float(), 2048.0f);
  EXPECT_EQ(hd[1].to_float(), 0.75f);
  EXPECT_EQ(p.b.read(), (std::vector<float>{10, 2, 30, 4}));
  EXPECT_EQ(p.a.read(), (std::vector<float>{4097, 3, 1, 10}));
  EXPECT_EQ(p.hb.read()[3].to_float(), 4.0f);
}

TEST(GenericBuiltins, MixedOrUnknownTypesAreErrors) {
  test::SinglePe pe;
  Generic p;
  p.body = [] {};
  pe.load(p);
  auto message = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] { p.fadd(p.d, p.a, p.hb); }).find("fadd: operands of different element types"),
            std::string::npos);
  const auto in = p.fabin({.extent = 4, .color = 3, .input_queue = 2});  // untyped stream
  const auto out = p.fabout({.extent = 4, .color = 4, .output_queue = 2});
  EXPECT_NE(message([&] { p.fmov(out, in, {.async = true}); }).find("fmov: no operand has an element type"),
            std::string::npos);
  EXPECT_NE(message([&] { p.fmov(p.d, p.ha); }).find("PE(0,0) program Generic"), std::string::npos);
}
