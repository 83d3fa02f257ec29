// The host runtime's Device: memcpy through the TLM socket pair (b_transport, then DMI), launch, run, per-PE
// statistics, timed memcpy, deadlocks surfaced with the fabric's report. One Device per test (SystemC elaborates once
// per process; ctest runs every test case in its own process).
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "firmware/kernels/ktree_allreduce.hpp"
#include "firmware/kernels/pipeline_allreduce.hpp"
#include "firmware/kernels/ring_allreduce.hpp"
#include "runtime/device.hpp"

using namespace wafersim;

namespace {
struct Mixed : csl::Program {
  csl::Array<float> f{this, "f", 8};
  csl::Array<csl::f16> h{this, "h", 6};
  csl::Array<std::uint32_t> u{this, "u", 4};
};
std::unique_ptr<csl::Layout> mixed_layout(int w, int h) {
  auto l = std::make_unique<csl::Layout>(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) l->set_tile_program<Mixed>(x, y);
  for (const char* s : {"f", "h", "u"}) l->export_symbol(s);
  return l;
}
}  // namespace

TEST(Device, MemcpyRoundTripsFp32Fp16AndU32OverARectangleAtAnOffset) {
  runtime::Device dev(hw::ArchParams{}, 6, 5);
  auto l = mixed_layout(3, 2);
  dev.load(*l, 2, 3);
  std::vector<float> f(3 * 2 * 8);
  std::vector<csl::f16> h(3 * 2 * 6);
  std::vector<std::uint32_t> u(3 * 2 * 3);
  for (std::size_t i = 0; i < f.size(); ++i) f[i] = 0.25f * float(i) - 3.0f;
  for (std::size_t i = 0; i < h.size(); ++i) h[i] = csl::f16(float(i) / 8);
  for (std::size_t i = 0; i < u.size(); ++i) u[i] = 0xdead0000u + std::uint32_t(i);
  dev.memcpy_h2d<float>("f", {0, 0, 3, 2}, f, 8);
  dev.memcpy_h2d<csl::f16>("h", {0, 0, 3, 2}, h, 6);
  dev.memcpy_h2d<std::uint32_t>("u", {0, 0, 3, 2}, u, 3, 1);  // elements 1..3
  EXPECT_EQ(dev.memcpy_d2h<float>("f", {0, 0, 3, 2}, 8), f);
  const auto h2 = dev.memcpy_d2h<csl::f16>("h", {0, 0, 3, 2}, 6);
  for (std::size_t i = 0; i < h.size(); ++i) EXPECT_EQ(h2[i].bits, h[i].bits);
  EXPECT_EQ(dev.memcpy_d2h<std::uint32_t>("u", {0, 0, 3, 2}, 3, 1), u);
  // Block order is row-major over the PEs: PE (2,1) of the layout holds the last block, at fabric PE (4,4).
  EXPECT_EQ(l->read_symbol<float>(2, 1, "f")[0], f[5 * 8]);
  EXPECT_EQ(dev.read<std::uint32_t>("u", 1, 0), (std::vector<std::uint32_t>{0, u[3], u[4], u[5]}));
  EXPECT_GT(dev.tlm_transactions(), 0u);  // first access per PE: b_transport, which grants DMI
  EXPECT_GT(dev.dmi_accesses(), 0u);      // later ones go straight to the SRAM bytes
}

TEST(Device, MemcpyErrorsNameThePeSymbolAndLimit) {
  runtime::Device dev(hw::ArchParams{}, 2, 2);
  auto l = mixed_layout(2, 2);
  dev.load(*l);
  std::vector<float> four(4);
  try {
    dev.memcpy_h2d<float>("f", {1, 1, 1, 1}, four, 4, 6);
    FAIL();
  } catch (const CapacityError& e) {
    EXPECT_NE(std::string(e.what()).find("PE(1,1) symbol 'f' has 8 elements"), std::string::npos) << e.what();
  }
  EXPECT_THROW(dev.memcpy_h2d<float>("h", {0, 0, 1, 1}, four, 4), ConfigError);  // 2-byte symbol
  EXPECT_THROW(dev.memcpy_h2d<float>("f", {1, 1, 2, 1}, four, 2), ConfigError);  // off the layout
  EXPECT_THROW(dev.memcpy_h2d<float>("f", {0, 0, 1, 1}, four, 3), ConfigError);  // buffer size
}

TEST(Device, TimedMemcpyFollowsTheEdgeChannelModel) {
  hw::ArchParams arch;
  arch.host_io.channels_per_edge = 2;
  runtime::Device dev(arch, 4, 4);
  auto l = mixed_layout(4, 4);
  dev.load(*l);
  dev.set_memcpy_timed(true);
  std::vector<float> f(4 * 4 * 8, 1.0f);
  dev.memcpy_h2d<float>("f", {0, 0, 4, 4}, f, 8);
  // 128 words over min(4 rows, 2 channels) at 1 word/cycle + 4 columns * hop 2 + 2 * ramp 2
  EXPECT_EQ(dev.memcpy_timing().cycles, 64u + 8u + 4u);
  EXPECT_EQ(dev.memcpy_timing().words, 128u);
}

TEST(Device, LaunchRunsTheKernelAndReportsCyclesAndPeStatistics) {
  const hw::ArchParams arch;
  runtime::Device dev(arch, 8, 2);
  kernels::CollectiveConfig cfg{.width = 8, .height = 2, .axis = kernels::Axis::X, .length = 16};
  auto c = kernels::pipeline_allreduce(cfg, arch);
  dev.load(*c.layout);
  std::vector<float> in(8 * 2 * 16);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = float(i % 7);
  dev.memcpy_h2d<float>("x", {0, 0, 8, 2}, in, 16);
  EXPECT_EQ(dev.launch(c.function), 16);
  const auto r = dev.run();
  ASSERT_TRUE(r.completed);
  EXPECT_TRUE(kernels::all_finished(*c.layout));
  EXPECT_GT(r.cycles, 16u);
  EXPECT_DOUBLE_EQ(r.microseconds, arch.cycles_to_us(double(r.cycles)));
  const auto out = dev.memcpy_d2h<float>("x", {0, 0, 8, 2}, 16);
  for (int row = 0; row < 2; ++row)
    for (int k = 0; k < 16; ++k) {
      float sum = 0;
      for (int x = 0; x < 8; ++x) sum += in[(row * 8 + x) * 16 + k];
      for (int x = 0; x < 8; ++x) EXPECT_EQ(out[(row * 8 + x) * 16 + k], sum);
    }
  const auto stats = dev.pe_stats();
  ASSERT_EQ(stats.size(), 16u);
  for (const auto& s : stats) {
    EXPECT_GT(s.busy_cycles, 0u);
    EXPECT_GE(s.sram_bytes_used, arch.pe.code_reserve_bytes + 16u * 4u);
    EXPECT_EQ(s.colors_used, c.plan->colors_at(s.x));
    EXPECT_GT(s.wavelets_received, 0u);
  }
  EXPECT_EQ(dev.pe_stats(7, 0).wavelets_received, 32u);  // the root: 16 from the chain + its own 16 back
  // A second launch on the same device runs again (no SystemC process owns the fabric).
  dev.launch(c.function);
  const auto r2 = dev.run();
  EXPECT_EQ(r2.cycles, r.cycles);
}

namespace {
// PE(0,0) streams 8 words east; PE(1,0) reads only 3: the rest stay in the fabric with nobody to take them.
struct Talker : csl::Program {
  csl::Array<std::uint32_t> v{this, "v", 8};
  void start() override { mov32(fabout({.extent = 8, .color = 4, .output_queue = 2}), v, {.async = true}); }
};
struct Listener : csl::Program {
  csl::Array<std::uint32_t> v{this, "v", 8};
  void start() override {
    mov32(csl::mem1d(v, {.extent = 3}), fabin({.extent = 3, .color = 4, .input_queue = 1}), {.async = true});
  }
};
}  // namespace

TEST(Device, DeadlockIsSurfacedWithTheFabricReport) {
  hw::ArchParams arch;
  arch.simulation.deadlock_cycles = 500;
  runtime::Device dev(arch, 2, 1);
  csl::Layout l(2, 1);
  l.set_tile_program<Talker>(0, 0);
  l.set_tile_program<Listener>(1, 0);
  hw::ColorConfig out, in;
  out.rx = hw::bit(hw::Dir::Ramp);
  out.tx = hw::bit(hw::Dir::East);
  in.rx = hw::bit(hw::Dir::West);
  in.tx = hw::bit(hw::Dir::Ramp);
  l.set_color_config(0, 0, 4, out);
  l.set_color_config(1, 0, 4, in);
  dev.load(l);
  try {
    dev.run();
    FAIL() << "no deadlock reported";
  } catch (const DeadlockError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("device: the kernel launched at cycle 0 cannot finish"), std::string::npos) << m;
    EXPECT_NE(m.find("deadlock"), std::string::npos) << m;
    EXPECT_NE(m.find("PE(1,0)"), std::string::npos) << m;
  }
}

TEST(Device, AnXyProgramRunsAgainOnNewDataAfterARun) {
  // launch -> run -> copy new inputs -> launch again: the same modules (X then Y K-tree) reduce the new data.
  const hw::ArchParams arch;
  runtime::Device dev(arch, 5, 3);
  kernels::CollectiveConfig cfg{.width = 5, .height = 3, .length = 4};
  auto c = kernels::allreduce_xy(cfg, arch, [&](const kernels::CollectiveConfig& p) { return kernels::ktree_plan(p, arch); });
  dev.load(*c.layout);
  for (int round = 0; round < 2; ++round) {
    std::vector<float> in(5 * 3 * 4);
    for (std::size_t i = 0; i < in.size(); ++i) in[i] = float((i * 7 + std::size_t(round) * 3) % 11) - 5.0f;
    dev.memcpy_h2d<float>("x", {0, 0, 5, 3}, in, 4);
    EXPECT_EQ(dev.launch(c.function), 15);
    const auto r = dev.run();
    ASSERT_TRUE(r.completed) << round;
    EXPECT_TRUE(kernels::all_finished(*c.layout)) << round;
    EXPECT_GT(r.cycles, 4u) << round;
    const auto out = dev.memcpy_d2h<float>("x", {0, 0, 5, 3}, 4);
    for (int k = 0; k < 4; ++k) {
      float sum = 0;  // small integers: exact in fp32 in any order
      for (int pe = 0; pe < 15; ++pe) sum += in[std::size_t(pe) * 4 + k];
      for (int pe = 0; pe < 15; ++pe) EXPECT_EQ(out[std::size_t(pe) * 4 + k], sum) << "round " << round << " PE " << pe;
    }
  }
}

TEST(Device, LoadsAnotherLayoutAfterARunAndBothComputeTheirResults) {
  // A: pipeline allreduce along X; B: ring allreduce along Y on other colours' worth of routes, then A's twin again.
  // Each load unloads the previous layout: its routes, queue bindings, SRAM symbols and compute engines go.
  const hw::ArchParams arch;
  runtime::Device dev(arch, 6, 3);
  auto check = [&](kernels::CollectiveLayout& c, int round) {
    dev.load(*c.layout);
    const kernels::CollectiveConfig& cfg = c.config;
    std::vector<float> in(6 * 3 * cfg.length);
    for (std::size_t i = 0; i < in.size(); ++i) in[i] = float((i * 5 + std::size_t(round)) % 9) - 4.0f;
    dev.memcpy_h2d<float>("x", {0, 0, 6, 3}, in, cfg.length);
    dev.launch(c.function);
    const auto r = dev.run();
    ASSERT_TRUE(r.completed) << round;
    EXPECT_TRUE(kernels::all_finished(*c.layout)) << round;
    const auto out = dev.memcpy_d2h<float>("x", {0, 0, 6, 3}, cfg.length);
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 6; ++x)
        for (std::uint32_t k = 0; k < cfg.length; ++k) {
          float sum = 0;  // small integers: exact in any order
          for (int p = 0; p < cfg.line_length(); ++p) {
            const int sx = cfg.axis == kernels::Axis::X ? p : x, sy = cfg.axis == kernels::Axis::X ? y : p;
            sum += in[(std::size_t(sy) * 6 + sx) * cfg.length + k];
          }
          EXPECT_EQ(out[(std::size_t(y) * 6 + x) * cfg.length + k], sum) << "round " << round << " PE " << x << "," << y;
        }
    // Only this layout's symbols occupy the SRAM: x (and the ring's nothing else for fp32).
    EXPECT_EQ(dev.pe_stats(0, 0).sram_bytes_used, arch.pe.code_reserve_bytes + 4 * cfg.length) << round;
  };
  auto a = kernels::pipeline_allreduce({.width = 6, .height = 3, .axis = kernels::Axis::X, .length = 8}, arch);
  auto b = kernels::ring_allreduce({.width = 6, .height = 3, .axis = kernels::Axis::Y, .length = 5}, arch);
  auto a2 = kernels::pipeline_allreduce({.width = 6, .height = 3, .axis = kernels::Axis::X, .length = 8}, arch);
  check(a, 0);
  check(b, 1);
  EXPECT_FALSE(a.layout->loaded());
  check(a2, 2);
  EXPECT_THROW(dev.load(*a2.layout), std::logic_error);  // already loaded
}

TEST(Device, LayoutsStayResidentSideBySideAndRunInTurn) {
  // Two pipeline allreduces along X on disjoint 3x2 rectangles of a 7x2 fabric (the stages of a model are loaded
  // so): each keeps its SRAM while the other runs, select() picks the one memcpy and launch address, an overlapping
  // third is refused naming both rectangles, and load() unloads every resident layout.
  const hw::ArchParams arch;
  runtime::Device dev(arch, 7, 2);
  auto a = kernels::pipeline_allreduce({.width = 3, .height = 2, .axis = kernels::Axis::X, .length = 4}, arch);
  auto b = kernels::pipeline_allreduce({.width = 3, .height = 2, .axis = kernels::Axis::X, .length = 4}, arch);
  dev.load_beside(*a.layout, 0, 0);
  dev.load_beside(*b.layout, 4, 0);
  EXPECT_EQ(&dev.layout(), b.layout.get());
  std::vector<float> in_a(3 * 2 * 4), in_b(3 * 2 * 4);
  for (std::size_t i = 0; i < in_a.size(); ++i) {
    in_a[i] = float(i % 5);
    in_b[i] = 10.0f + float(i % 3);
  }
  dev.memcpy_h2d<float>("x", {0, 0, 3, 2}, in_b, 4);  // b is current
  dev.select(*a.layout);
  dev.memcpy_h2d<float>("x", {0, 0, 3, 2}, in_a, 4);
  auto expect_row_sums = [](const std::vector<float>& in, const std::vector<float>& out, const char* what) {
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 3; ++x)
        for (int k = 0; k < 4; ++k) {
          float sum = 0;  // small integers: exact in any order
          for (int p = 0; p < 3; ++p) sum += in[(std::size_t(y) * 3 + p) * 4 + k];
          EXPECT_EQ(out[(std::size_t(y) * 3 + x) * 4 + k], sum) << what << " PE " << x << "," << y;
        }
  };
  for (csl::Layout* l : {a.layout.get(), b.layout.get()}) {
    dev.select(*l);
    EXPECT_EQ(dev.launch(a.function), 6);
    ASSERT_TRUE(dev.run().completed);
  }
  EXPECT_TRUE(kernels::all_finished(*a.layout));
  EXPECT_TRUE(kernels::all_finished(*b.layout));
  expect_row_sums(in_b, dev.memcpy_d2h<float>("x", {0, 0, 3, 2}, 4), "b");
  dev.select(*a.layout);
  expect_row_sums(in_a, dev.memcpy_d2h<float>("x", {0, 0, 3, 2}, 4), "a");
  // b's PEs are fabric columns 4..6: its symbols, not a's, occupy them; column 3 holds nothing.
  EXPECT_EQ(dev.fabric().sram(4, 0).used(), arch.pe.code_reserve_bytes + 4 * 4);
  EXPECT_EQ(dev.fabric().sram(3, 0).used(), arch.pe.code_reserve_bytes);

  auto c = kernels::pipeline_allreduce({.width = 3, .height = 2, .axis = kernels::Axis::X, .length = 4}, arch);
  try {
    dev.load_beside(*c.layout, 2, 0);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("the layout of 3x2 at PE(2,0) overlaps the loaded one of 3x2 at PE(0,0)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(c.layout->loaded());
  EXPECT_THROW(dev.select(*c.layout), std::logic_error);
  EXPECT_THROW(dev.load_beside(*a.layout, 4, 0), std::logic_error);  // already loaded
  dev.load(*c.layout, 2, 0);  // unloads a and b
  EXPECT_FALSE(a.layout->loaded());
  EXPECT_FALSE(b.layout->loaded());
  EXPECT_EQ(dev.fabric().sram(4, 0).used(), arch.pe.code_reserve_bytes + 4 * 4);  // c's x at its column 2
  EXPECT_EQ(dev.fabric().sram(5, 0).used(), arch.pe.code_reserve_bytes);
}
