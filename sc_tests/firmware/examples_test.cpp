// The SDK-tutorial examples on the cycle-level fabric, each against a CPU computation, plus their cycle counts.
#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "common/error.hpp"
#include "fabric/fabric.hpp"
#include "firmware/examples/examples.hpp"

using namespace wafersim;
using fabric::DataMode;
using fabric::Fabric;

namespace {
// PE (0,0) runs Left and streams colour c east to PE (1,0), which runs Right; the layout is loaded onto f.
template <class Left, class Right>
void load_east_pair(csl::Layout& layout, Fabric& f, hw::Color c) {
  layout.set_tile_program<Left>(0, 0);
  layout.set_tile_program<Right>(1, 0);
  layout.set_color_config(0, 0, c, csl::route(hw::bit(hw::Dir::Ramp), hw::bit(hw::Dir::East)));
  layout.set_color_config(1, 0, c, csl::route(hw::bit(hw::Dir::West), hw::bit(hw::Dir::Ramp)));
  layout.load(f);
}
}  // namespace

namespace {
std::vector<float> random_vec(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}
// CPU oracle with the CE's operation order: y = b; for each column j: y += A[:, j] * x[j] (two roundings).
std::vector<float> cpu_gemv(const std::vector<float>& A, const std::vector<float>& x, std::vector<float> y,
                            std::uint32_t M, std::uint32_t N, std::uint32_t col0, std::uint32_t ld) {
  for (std::uint32_t j = 0; j < N; ++j)
    for (std::uint32_t i = 0; i < M; ++i) {
      volatile float p = A[i * ld + col0 + j] * x[col0 + j];
      y[i] = y[i] + p;
    }
  return y;
}
}  // namespace

namespace {
// The one-PE gemv example loaded on `f`, with random A, x, b (seeds seed, seed+1, seed+2) written and "compute"
// called.
struct GemvRun {
  std::unique_ptr<csl::Layout> layout;
  std::vector<float> A, x, b;
};
GemvRun start_gemv(Fabric& f, std::uint32_t M, std::uint32_t N, unsigned seed) {
  GemvRun g{examples::gemv_layout(M, N), random_vec(M * N, seed), random_vec(N, seed + 1), random_vec(M, seed + 2)};
  g.layout->load(f);
  g.layout->write_symbol(0, 0, "A", g.A);
  g.layout->write_symbol(0, 0, "x", g.x);
  g.layout->write_symbol(0, 0, "b", g.b);
  g.layout->call("compute");
  return g;
}
}  // namespace

TEST(GemvExample, SinglePeMatchesCpuAndTakesTheDsdCycles) {
  const std::uint32_t M = 32, N = 16;
  Fabric f(hw::ArchParams{}, 1, 1);
  const auto [layout, A, x, b] = start_gemv(f, M, N, 1);
  ASSERT_TRUE(f.run().completed);
  const auto y = layout->read_symbol<float>(0, 0, "y");
  const auto want = cpu_gemv(A, x, b, M, N, 0, N);
  for (std::uint32_t i = 0; i < M; ++i) EXPECT_EQ(y[i], want[i]) << i;
  // task switch 2 + fmovs (2 DSD loads + 3 issue + ceil(32/2)) + 16 fmacs of (3 loads + 3 issue + 32)
  EXPECT_EQ(layout->engine(0, 0).stats().main_busy_cycles, 2u + 21u + 16u * 38u);
}

TEST(SendReceiveExample, RightPeAddsTheLeftPartial) {
  const std::uint32_t M = 24, N = 20;
  Fabric f(hw::ArchParams{}, 2, 1);
  auto layout = examples::send_receive_layout(M, N);
  layout->load(f);
  auto A = random_vec(M * N, 4), x = random_vec(N, 5), b = random_vec(M, 6);
  const std::uint32_t h = N / 2;
  for (int pe = 0; pe < 2; ++pe) {
    const std::uint32_t c0 = pe * h, n = pe ? N - h : h;
    std::vector<float> a(M * n), xs(x.begin() + c0, x.begin() + c0 + n);
    for (std::uint32_t i = 0; i < M; ++i)
      for (std::uint32_t j = 0; j < n; ++j) a[i * n + j] = A[i * N + c0 + j];
    layout->write_symbol(pe, 0, "A", a);
    layout->write_symbol(pe, 0, "x", xs);
  }
  layout->write_symbol(1, 0, "b", b);
  EXPECT_EQ(layout->call("compute"), 2);
  auto r = f.run();
  ASSERT_TRUE(r.completed);
  const auto left = cpu_gemv(A, x, std::vector<float>(M, 0.0f), M, h, 0, N);
  const auto right = cpu_gemv(A, x, b, M, N - h, h, N);
  const auto y = layout->read_symbol<float>(1, 0, "y");
  for (std::uint32_t i = 0; i < M; ++i) EXPECT_EQ(y[i], right[i] + left[i]) << i;
  EXPECT_EQ(layout->engine(1, 0).stats().async_ops, 1u);
  EXPECT_EQ(layout->engine(1, 0).stats().wavelets_received, M);
  RecordProperty("cycles", std::to_string(r.cycles));
  std::printf("send/receive M=%u N=%u: %llu cycles\n", M, N, (unsigned long long)r.cycles);
}

namespace {
struct PipelineRun {
  std::vector<std::vector<float>> v;
  std::vector<float> y;
  hw::Cycle cycles = 0;
  bool all_done = true;
};
PipelineRun run_pipeline(int P, std::uint32_t n, DataMode mode) {
  Fabric f(hw::ArchParams{}, P, 1, mode);
  auto layout = examples::pipeline_layout(P, n);
  layout->load(f);
  PipelineRun out;
  for (int i = 0; i < P; ++i) {
    out.v.push_back(random_vec(n, 100 + i));
    layout->write_symbol(i, 0, "v", out.v.back());
  }
  auto r = f.run();
  EXPECT_TRUE(r.completed);
  out.cycles = r.cycles;
  out.y = layout->read_symbol<float>(P - 1, 0, "y");
  for (int i = 0; i < P; ++i) out.all_done &= layout->program_as<examples::PipelineStage>(i, 0).finished || i == 0;
  return out;
}
}  // namespace

TEST(PipelineExample, LastPeHoldsTheSumOfAllVectors) {
  for (int P : {2, 3, 7}) {
    const std::uint32_t n = 40;
    auto r = run_pipeline(P, n, DataMode::Functional);
    EXPECT_TRUE(r.all_done) << P;
    auto layout = examples::pipeline_layout(P, n);
    EXPECT_EQ(layout->colors_at(0, 0), (std::vector<csl::Color>{0}));
    EXPECT_EQ(layout->max_colors_per_pe(), P > 2 ? 2 : 1);  // checkerboard: two colours per inner PE
    for (std::uint32_t k = 0; k < n; ++k) {
      float acc = r.v[0][k];
      for (int i = 1; i < P; ++i) acc = acc + r.v[i][k];
      EXPECT_EQ(r.y[k], acc) << "P=" << P << " k=" << k;
    }
    std::printf("pipeline P=%d n=%u: %llu cycles\n", P, n, (unsigned long long)r.cycles);
  }
}

TEST(PipelineExample, StreamsOneWaveletPerCycleSoLengthAndDepthAdd) {
  // Cycles grow by ~1 per extra element (streaming) and by a fixed latency per extra PE, not by n per PE.
  const auto a = run_pipeline(4, 40, DataMode::Functional).cycles, b = run_pipeline(4, 80, DataMode::Functional).cycles;
  const auto c = run_pipeline(8, 40, DataMode::Functional).cycles;
  EXPECT_NEAR(double(b - a), 40.0, 4.0);
  EXPECT_LT(c - a, 4u * 10u);  // four more stages cost far less than 4 * 40 cycles
  EXPECT_GT(c, a);
}

TEST(PipelineExample, TimingOnlyModeGivesTheSameCycles) {
  const auto functional = run_pipeline(5, 33, DataMode::Functional);
  const auto timing = run_pipeline(5, 33, DataMode::TimingOnly);
  EXPECT_EQ(functional.cycles, timing.cycles);
  for (float v : timing.y) EXPECT_EQ(v, 0.0f);  // no contents in timing-only mode
}

TEST(BroadcastExample, SwitchFeedsTheFourNeighboursInTurn) {
  const std::uint32_t n = 12;
  Fabric f(hw::ArchParams{}, 3, 3);
  auto layout = examples::broadcast_layout(n);
  layout->load(f);
  auto data = random_vec(4 * n, 9);
  layout->write_symbol(1, 1, "data", data);
  auto r = f.run();
  ASSERT_TRUE(r.completed);
  const int order[4][2] = {{2, 1}, {0, 1}, {1, 0}, {1, 2}};  // east, west, north, south
  for (int k = 0; k < 4; ++k) {
    const auto buf = layout->read_symbol<float>(order[k][0], order[k][1], "buf");
    EXPECT_TRUE(layout->program_as<examples::BroadcastNeighbour>(order[k][0], order[k][1]).finished) << k;
    for (std::uint32_t i = 0; i < n; ++i) EXPECT_EQ(buf[i], data[k * n + i]) << "neighbour " << k << " element " << i;
  }
  EXPECT_EQ(f.router(1, 1).state(examples::BroadcastCentre::kColor)->position, 3);
  EXPECT_EQ(layout->max_colors_per_pe(), 1);
  std::printf("broadcast n=%u: %llu cycles\n", n, (unsigned long long)r.cycles);
}

TEST(Layout, ErrorsNameThePeProgramAndSymbol) {
  Fabric f(hw::ArchParams{}, 1, 1);
  auto layout = examples::gemv_layout(200, 60);  // 48000 bytes of A alone
  try {
    layout->load(f);
    FAIL() << "no error";
  } catch (const CapacityError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("PE(0,0) program gemv"), std::string::npos) << m;
    EXPECT_NE(m.find("'A' needs 48000 bytes"), std::string::npos) << m;
  }
  Fabric g(hw::ArchParams{}, 1, 1);
  csl::Layout big(2, 1);
  EXPECT_THROW(big.load(g), ConfigError);
}

TEST(Layout, AFailedLoadLeavesNothingAllocatedAndTheNextLoadRuns) {
  Fabric f(hw::ArchParams{}, 1, 1);
  const std::uint32_t reserve = f.sram(0, 0).used();
  auto tight = examples::gemv_layout(100, 110);  // A (44000 bytes) fits, the vectors after it do not
  try {
    tight->load(f);
    FAIL() << "no error";
  } catch (const CapacityError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("the largest: 'A' 44000"), std::string::npos) << m;  // what fills the PE
  }
  EXPECT_FALSE(tight->loaded());
  EXPECT_EQ(f.sram(0, 0).used(), reserve);  // A was freed again
  GemvRun g = start_gemv(f, 32, 16, 3);
  ASSERT_TRUE(f.run().completed);
  const auto y = g.layout->read_symbol<float>(0, 0, "y");
  const auto want = cpu_gemv(g.A, g.x, g.b, 32, 16, 0, 16);
  for (std::uint32_t i = 0; i < 32; ++i) EXPECT_EQ(y[i], want[i]) << i;
}

namespace {
// PE(0,0) sends 3 wavelets, a TEARDOWN control wavelet, then 2 more on colour 5; every router on the path puts the
// colour into teardown when the command passes, and each PE's teardown handler leaves it again.
struct TeardownSender : csl::Program {
  csl::Array<std::uint32_t> v{this, "v", 5};
  int handled = 0;
  void init() override {
    set_teardown_handler(5, [this](csl::Color c) {
      ++handled;
      exit_teardown(c);
    });
  }
  void start() override {
    mov32(fabout({.extent = 3, .color = 5, .output_queue = 2}), csl::mem1d(v, {.extent = 3}), {.async = true});
    hw::ControlPayload p;
    p.cmd[0] = hw::SwitchCmd::Teardown;
    p.ce_ignore.fill(true);
    send_control(5, 2, p.encode());
    mov32(fabout({.extent = 2, .color = 5, .output_queue = 2}), csl::mem1d(v, {.extent = 2, .offset = 3}), {.async = true});
  }
};
struct TeardownReceiver : csl::Program {
  std::vector<std::uint32_t> got;
  int handled = 0;
  csl::DataTask rx{this, 5, [this](hw::TaskArg a) { got.push_back(a.u32()); }};
  void init() override {
    set_teardown_handler(5, [this](csl::Color c) {
      ++handled;
      hw::ColorConfig cfg;
      cfg.rx = hw::bit(hw::Dir::West);
      cfg.tx = hw::bit(hw::Dir::Ramp);
      set_local_color_config(c, cfg);
      exit_teardown(c);
    });
  }
};
}  // namespace

TEST(Teardown, HandlersRunOnEveryPeOfThePathAndTrafficResumes) {
  Fabric f(hw::ArchParams{}, 2, 1);
  csl::Layout layout(2, 1);
  load_east_pair<TeardownSender, TeardownReceiver>(layout, f, 5);
  layout.write_symbol<std::uint32_t>(0, 0, "v", {1, 2, 3, 4, 5});
  ASSERT_TRUE(f.run().completed);
  EXPECT_EQ(layout.program_as<TeardownSender>(0, 0).handled, 1);
  EXPECT_EQ(layout.program_as<TeardownReceiver>(1, 0).handled, 1);
  EXPECT_EQ(layout.program_as<TeardownReceiver>(1, 0).got, (std::vector<std::uint32_t>{1, 2, 3, 4, 5}));
  EXPECT_FALSE(f.router(0, 0).in_teardown(5));
  EXPECT_FALSE(f.router(1, 0).in_teardown(5));
}

TEST(GemvExample, RelaunchingRunsTheTaskAgain) {
  const std::uint32_t M = 8, N = 4;
  Fabric f(hw::ArchParams{}, 1, 1);
  const auto [layout, A, x, b] = start_gemv(f, M, N, 11);
  const auto first = f.run();
  ASSERT_TRUE(first.completed);
  layout->write_symbol(0, 0, "b", std::vector<float>(M, 1.0f));
  layout->call("compute");
  const auto second = f.run();
  ASSERT_TRUE(second.completed);
  const auto want = cpu_gemv(A, x, std::vector<float>(M, 1.0f), M, N, 0, N);
  EXPECT_EQ(layout->read_symbol<float>(0, 0, "y"), want);
  EXPECT_EQ(layout->engine(0, 0).stats().tasks_run, 2u);
  // per run: switch 2 + fmovs (2 loads + 3 issue + 8/2) + 4 fmacs of (3 loads + 3 issue + 8)
  EXPECT_EQ(layout->engine(0, 0).stats().main_busy_cycles, 2u * (2u + 9u + 4u * 14u));
}

namespace {
struct Starved : csl::Program {
  csl::Array<float> y{this, "y", 4};
  void start() override {
    fadds(y, y, fabin({.extent = 4, .color = 2, .input_queue = 3}), {.async = true});
  }
};
}  // namespace

TEST(Deadlock, AMicrothreadWaitingForWaveletsThatNeverComeIsReported) {
  hw::ArchParams a;
  a.simulation.deadlock_cycles = 200;
  Fabric f(a, 1, 1);
  csl::Layout layout(1, 1);
  layout.set_tile_program<Starved>(0, 0);
  layout.load(f);
  try {
    f.run();
    FAIL() << "no deadlock reported";
  } catch (const DeadlockError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("microthread 3 fadds 0/4 waits on IQ 3 empty (colour 2)"), std::string::npos) << m;
  }
}

namespace {
struct NeverUnblocks : csl::Program {
  int got = 0;
  csl::DataTask rx{this, 6, [this](hw::TaskArg) { ++got; }, 2};
  void init() override { block(rx); }
};
struct SendsTwo : csl::Program {
  csl::Array<float> v{this, "v", 2};
  void start() override { fmovs(fabout({.extent = 2, .color = 6, .output_queue = 2}), v, {.async = true}); }
};
}  // namespace

TEST(Deadlock, WaveletsLeftInABlockedColoursQueueAreReported) {
  hw::ArchParams a;
  a.simulation.deadlock_cycles = 300;
  Fabric f(a, 2, 1);
  csl::Layout layout(2, 1);
  load_east_pair<SendsTwo, NeverUnblocks>(layout, f, 6);
  try {
    f.run();
    FAIL() << "no deadlock reported";
  } catch (const DeadlockError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("IQ 2 (colour 6) holds 2 wavelet(s), colour blocked"), std::string::npos) << m;
  }
  EXPECT_EQ(layout.program_as<NeverUnblocks>(1, 0).got, 0);
}

namespace {
// SDK topic-05 idiom: a control wavelet after the data marks the end of a stream and runs a control task.
struct StreamWithSentinel : csl::Program {
  csl::Array<float> v{this, "v", 3};
  void start() override {
    fmovs(fabout({.extent = 3, .color = 7, .output_queue = 2}), v, {.async = true});
    send_control(7, 2, hw::ControlPayload::single(hw::SwitchCmd::Nop, false, 40, 0x1234));
  }
};
struct SumUntilSentinel : csl::Program {
  float sum = 0;
  float sum_at_sentinel = -1;
  std::uint16_t sentinel_data = 0;
  csl::DataTask rx{this, 7, [this](hw::TaskArg a) { sum += a.f32(); }};
  csl::ControlTask end{this, 40, [this](hw::TaskArg a) {
                         sum_at_sentinel = sum;
                         sentinel_data = a.data16();
                       }};
};
}  // namespace

TEST(ControlTask, SentinelControlWaveletEndsAStreamOnTheFabric) {
  Fabric f(hw::ArchParams{}, 2, 1);
  csl::Layout layout(2, 1);
  load_east_pair<StreamWithSentinel, SumUntilSentinel>(layout, f, 7);
  layout.write_symbol<float>(0, 0, "v", {1.5f, 2.0f, 4.0f});
  ASSERT_TRUE(f.run().completed);
  const auto& r = layout.program_as<SumUntilSentinel>(1, 0);
  EXPECT_EQ(r.sum_at_sentinel, 7.5f);  // all three data wavelets were consumed before the sentinel
  EXPECT_EQ(r.sentinel_data, 0x1234);
  EXPECT_EQ(layout.engine(1, 0).stats().tasks_run, 4u);
}

namespace {
struct Flood : csl::Program {
  csl::Array<std::uint32_t> v{this, "v", 30};
  void start() override { mov32(fabout({.extent = 30, .color = 8, .output_queue = 2}), v, {.async = true}); }
};
// Blocks colour 8 until a long memory operation (2000 fp32 FMACs = 2001 cycles) has finished.
struct SlowReceiver : csl::Program {
  csl::Array<float> big{this, "big", 2000};
  std::vector<std::uint32_t> got;
  csl::DataTask rx{this, 8, [this](hw::TaskArg a) { got.push_back(a.u32()); }, 2};
  void init() override { block(rx); }
  void start() override {
    fmacs(big, big, big, 1.0f);
    unblock(rx);  // takes effect for the picker when this task ends
  }
};
}  // namespace

TEST(BackPressure, ABlockedColourStallsTheSendersMicrothreadUntilUnblocked) {
  Fabric f(hw::ArchParams{}, 2, 1);
  csl::Layout layout(2, 1);
  load_east_pair<Flood, SlowReceiver>(layout, f, 8);
  std::vector<std::uint32_t> v(30);
  for (std::uint32_t i = 0; i < 30; ++i) v[i] = 100 + i;
  layout.write_symbol(0, 0, "v", v);
  f.run_until(1000);
  EXPECT_EQ(f.queues(1, 0).iq(2).size(), 4);  // IQ 2 is full: the router holds the rest
  std::ostringstream os;
  layout.engine(0, 0).describe_wait(os);
  EXPECT_NE(os.str().find("waits on OQ 2 full (colour 8)"), std::string::npos) << os.str();
  ASSERT_TRUE(f.run().completed);
  EXPECT_EQ(layout.program_as<SlowReceiver>(1, 0).got, v);
  EXPECT_GT(layout.engine(0, 0).stats().microthread_stall_cycles, 1900u);
  EXPECT_GT(f.stats().cycles, 2003u + 30u);  // nothing is consumed before the receiver's task ends at 2003
}

TEST(GemvExample, Wse3PresetChangesOnlyTheWidthsItShould) {
  const hw::ArchParams wse3 = hw::load_arch(std::string(WAFERSIM_SOURCE_DIR) + "/configs/wse3.yaml");
  const std::uint32_t M = 32, N = 16;
  Fabric f(wse3, 1, 1);
  const auto [layout, A, x, b] = start_gemv(f, M, N, 1);
  ASSERT_TRUE(f.run().completed);
  EXPECT_EQ(layout->read_symbol<float>(0, 0, "y"), cpu_gemv(A, x, b, M, N, 0, N));
  // fmovs is 4-wide on WSE-3 but a 128-bit chunk takes 2 cycles (2 + 3 + 2 * 8 = 21, as 2-wide WSE-2); fmacs
  // stays 1/cycle: 2 + 21 + 16 * 38
  EXPECT_EQ(layout->engine(0, 0).stats().main_busy_cycles, 2u + 21u + 16u * 38u);
}
