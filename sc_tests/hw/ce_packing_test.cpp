// simd_32 / simd_64 packing of 16-bit values on fabric DSDs: a two-PE fp16 stream packed two values per wavelet
// takes about half the cycles of the same stream in fp32 (one value per wavelet), values exact; odd lengths.
#include <gtest/gtest.h>

#include "fabric/fabric.hpp"
#include "firmware/csl/layout.hpp"
#include "firmware/csl/program.hpp"

using namespace wafersim;
using csl::f16;

namespace {
constexpr hw::Color kColor = 4;
constexpr std::uint32_t kMax = 1024;

// PE(0,0) streams n values of `v` east (fp16 with a simd_mode, or fp32); PE(1,0) receives them into `r`.
struct Sender : csl::Program {
  csl::Array<f16> h{this, "h", kMax};
  csl::Array<float> s{this, "s", kMax};
  static inline std::uint32_t n = 0;
  static inline bool fp16 = true;
  static inline hw::SimdMode mode = hw::SimdMode::Simd32;
  void start() override {
    auto out = fabout({.extent = n, .color = kColor, .output_queue = 2, .simd_mode = fp16 ? mode : hw::SimdMode::Off});
    if (fp16) fmovh(out, csl::mem1d(h, {.extent = n}), {.async = true});
    else fmovs(out, csl::mem1d(s, {.extent = n}), {.async = true});
  }
};
struct Receiver : csl::Program {
  csl::Array<f16> h{this, "h", kMax};
  csl::Array<float> s{this, "s", kMax};
  hw::Cycle done_at = 0;
  csl::LocalTask done{this, [this] { done_at = now(); }};
  void start() override {
    auto in = fabin({.extent = Sender::n, .color = kColor, .input_queue = 2,
                     .simd_mode = Sender::fp16 ? Sender::mode : hw::SimdMode::Off});
    if (Sender::fp16) fmovh(csl::mem1d(h, {.extent = Sender::n}), in, {.async = true, .activate = done});
    else fmovs(csl::mem1d(s, {.extent = Sender::n}), in, {.async = true, .activate = done});
  }
};

struct Result {
  hw::Cycle done_at;
  std::vector<float> values;
};
Result stream(std::uint32_t n, bool fp16, hw::SimdMode mode = hw::SimdMode::Simd32) {
  Sender::n = n;
  Sender::fp16 = fp16;
  Sender::mode = mode;
  fabric::Fabric f(hw::ArchParams{}, 2, 1);
  csl::Layout layout(2, 1);
  layout.set_tile_program<Sender>(0, 0);
  layout.set_tile_program<Receiver>(1, 0);
  layout.set_color_config(0, 0, kColor, csl::route(hw::bit(hw::Dir::Ramp), hw::bit(hw::Dir::East)));
  layout.set_color_config(1, 0, kColor, csl::route(hw::bit(hw::Dir::West), hw::bit(hw::Dir::Ramp)));
  layout.load(f);
  std::vector<float> in(n);
  for (std::uint32_t i = 0; i < n; ++i) in[i] = float(int(i % 97) - 48) * 0.25f;
  if (fp16) {
    std::vector<f16> h(n);
    for (std::uint32_t i = 0; i < n; ++i) h[i] = f16(in[i]);
    layout.write_symbol<f16>(0, 0, "h", h);
  } else {
    layout.write_symbol<float>(0, 0, "s", in);
  }
  EXPECT_TRUE(f.run().completed);
  Result r{layout.program_as<Receiver>(1, 0).done_at, {}};
  if (fp16) {
    for (f16 v : layout.read_symbol<f16>(1, 0, "h")) r.values.push_back(float(v));
  } else {
    r.values = layout.read_symbol<float>(1, 0, "s");
  }
  r.values.resize(n);
  EXPECT_EQ(r.values, in);  // all values are exact in fp16 and fp32
  return r;
}
}  // namespace

TEST(FabricPacking, Simd32Fp16StreamTakesAboutHalfTheCyclesOfFp32) {
  for (std::uint32_t n : {512u, 1001u}) {
    const Result packed = stream(n, true), fp32 = stream(n, false);
    const double ratio = double(packed.done_at) / double(fp32.done_at);
    EXPECT_NEAR(ratio, 0.5, 0.05) << "n " << n << ": " << packed.done_at << " vs " << fp32.done_at;
  }
}

TEST(FabricPacking, Simd64MovesFourValuesPerTwoWavelets) {
  for (std::uint32_t n : {512u, 7u}) {
    const Result s64 = stream(n, true, hw::SimdMode::Simd64), s32 = stream(n, true, hw::SimdMode::Simd32);
    // Same link rate (one wavelet per cycle); simd_64 waits for a pair, so it never finishes earlier.
    EXPECT_GE(s64.done_at, s32.done_at) << n;
    EXPECT_LE(s64.done_at, s32.done_at + 2) << n;
  }
}

TEST(FabricPacking, UnpackedFp16CostsTheLinkTimeOfFp32) {
  const Result off = stream(512, true, hw::SimdMode::Off), fp32 = stream(512, false);
  EXPECT_EQ(off.done_at, fp32.done_at);
}

TEST(FabricPacking, PackingNeedsSixteenBitElementsAndOneModePerOperation) {
  struct P : csl::Program {
    csl::Array<float> s{this, "s", 4};
    csl::Array<f16> h{this, "h", 4};
    int which = 0;
    csl::LocalTask t{this, 1, [this] {
                       if (which == 0)
                         fmovs(fabout({.extent = 4, .color = 3, .output_queue = 2, .simd_mode = hw::SimdMode::Simd32}), s,
                               {.async = true});
                       else
                         fmovh(fabout({.extent = 4, .color = 3, .output_queue = 2, .simd_mode = hw::SimdMode::Simd32}),
                               fabin({.extent = 4, .color = 5, .input_queue = 3}), {.async = true});
                     }};
    void init() override { activate(t); }
  };
  for (int which : {0, 1}) {
    hw::ArchParams arch;
    hw::Sram sram(arch.pe.sram_bytes, arch.pe.code_reserve_bytes, true);
    hw::PeQueues queues(0, arch.queues.input_depths, arch.queues.output_depths, nullptr);
    hw::ComputeEngine ce(arch, 2, 0, sram, queues);
    P p;
    p.which = which;
    p.attach(ce);
    try {
      ce.step(0, queues);
      FAIL() << "expected an error";
    } catch (const std::invalid_argument& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("PE(2,0)"), std::string::npos) << m;
      EXPECT_NE(m.find(which == 0 ? "needs 16-bit elements" : "different simd modes"), std::string::npos) << m;
    }
  }
}
