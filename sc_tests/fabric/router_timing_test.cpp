// Latency and throughput of wavelets over straight routes, multicast, virtual channels and back-pressure.
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "fabric_fixture.hpp"

using namespace wafersim;
using namespace wafersim::fabric;
using namespace wafersim::fabric::testing;

namespace {

// A wavelet pushed into an output queue at cycle 0 crosses the ramp, the source router, d hops (link + router
// each) and the ramp again; the receiver pops it in the cycle it lands in its input queue.
Cycle expected_arrival(const hw::ArchParams& a, int d) {
  return 2 * a.router.ramp_latency + a.router.router_latency + Cycle(d) * a.router.hop_latency();
}

struct LatencyCase {
  int router, link, ramp;
};

class SingleWaveletLatency : public ::testing::TestWithParam<LatencyCase> {};

TEST_P(SingleWaveletLatency, GrowsByOneHopLatencyPerHop) {
  const LatencyCase p = GetParam();
  const hw::ArchParams a = small_arch(p.router, p.link, p.ramp);
  for (int d = 1; d <= 6; ++d) {
    Fabric f(a, 8, 1);
    route_east(f, 0, 0, d, 3);
    Drivers drv(f);
    drv.at(0, 0).send(data(42, 3), 2);
    f.queues(d, 0).bind_input_queue(1, 3);
    drv.at(d, 0).expect(1);
    drv.attach({{0, 0}, {d, 0}});
    const RunResult r = f.run();
    ASSERT_TRUE(r.completed);
    ASSERT_EQ(drv.at(d, 0).received().size(), 1u);
    EXPECT_EQ(drv.at(d, 0).received()[0].w.payload, 42u);
    EXPECT_EQ(drv.at(d, 0).received()[0].at, expected_arrival(a, d)) << "d=" << d;
    EXPECT_EQ(f.stats().wavelet_hops, std::uint64_t(d));
  }
}

INSTANTIATE_TEST_SUITE_P(Latencies, SingleWaveletLatency,
                         ::testing::Values(LatencyCase{1, 1, 2}, LatencyCase{2, 1, 1}, LatencyCase{0, 3, 4}));

// Also with deeper colour buffers (depth = hop latency + 1 = 4 and 8), whose ring runs past the colour's cache line.
TEST(Stream, NWaveletsOverDHopsFinishAtLatencyPlusNMinusOne) {
  for (const hw::ArchParams& a : {small_arch(), small_arch(0, 3, 4), small_arch(3, 4, 2)})
  for (int d : {1, 3, 7}) {
    for (int n : {1, 2, 16, 100}) {
      Fabric f(a, 8, 1);
      route_east(f, 0, 0, d, 5);
      Drivers drv(f);
      for (int i = 0; i < n; ++i) drv.at(0, 0).send(data(i, 5), 2, i);
      f.queues(d, 0).bind_input_queue(0, 5);
      drv.at(d, 0).expect(n);
      drv.attach({{0, 0}, {d, 0}});
      ASSERT_TRUE(f.run().completed);
      const auto& got = drv.at(d, 0).received();
      ASSERT_EQ(got.size(), std::size_t(n));
      for (int i = 0; i < n; ++i) EXPECT_EQ(got[i].w.payload, std::uint32_t(i));
      EXPECT_EQ(got.back().at, expected_arrival(a, d) + Cycle(n - 1))
          << "depth=" << a.router.color_buffer_depth << " d=" << d << " n=" << n;
    }
  }
}

// A few streams far apart on a mesh of 20000 PEs: the agents due in a cycle are found through the summary of the
// due-agent bitmap (one bit per 64 PEs), on one host thread and on bands of rows; every stream keeps its timing.
TEST(Stream, SparseStreamsOnALargeMeshKeepTheirTiming) {
  for (int threads : {1, 2, 3}) {
    hw::ArchParams a = small_arch();
    a.simulation.host_threads = threads;
    a.simulation.parallel_min_routers = 1;
    Fabric f(a, 200, 100);
    Drivers drv(f);
    const int rows[] = {0, 45, 99}, x0[] = {3, 150, 70}, d = 5, n = 40;
    for (int k = 0; k < 3; ++k) {
      route_east(f, x0[k], rows[k], d, hw::Color(k));
      for (int i = 0; i < n; ++i) drv.at(x0[k], rows[k]).send(data(100 * k + i, hw::Color(k)), 2, Cycle(7 * k + i));
      f.queues(x0[k] + d, rows[k]).bind_input_queue(0, hw::Color(k));
      drv.at(x0[k] + d, rows[k]).expect(n);
      drv.attach({{x0[k], rows[k]}, {x0[k] + d, rows[k]}});
    }
    ASSERT_TRUE(f.run().completed);
    for (int k = 0; k < 3; ++k) {
      const auto& got = drv.at(x0[k] + d, rows[k]).received();
      ASSERT_EQ(got.size(), std::size_t(n)) << "threads=" << threads << " stream " << k;
      for (int i = 0; i < n; ++i) {
        EXPECT_EQ(got[i].w.payload, std::uint32_t(100 * k + i));
        EXPECT_EQ(got[i].at, expected_arrival(a, d) + Cycle(7 * k + i)) << "threads=" << threads << " stream " << k;
      }
    }
  }
}

TEST(Multicast, DeliversEveryWaveletToEveryTxInOrder) {
  Fabric f(small_arch(), 5, 5);
  const hw::Color c = 7;
  f.set_color_config(2, 2, c, route(bit(Dir::Ramp), bit(Dir::North) | bit(Dir::South) | bit(Dir::East) |
                                                        bit(Dir::West) | bit(Dir::Ramp)));
  f.set_color_config(2, 1, c, route(bit(Dir::South), bit(Dir::Ramp)));
  f.set_color_config(2, 3, c, route(bit(Dir::North), bit(Dir::Ramp)));
  f.set_color_config(3, 2, c, route(bit(Dir::West), bit(Dir::Ramp)));
  f.set_color_config(1, 2, c, route(bit(Dir::East), bit(Dir::Ramp)));
  Drivers drv(f);
  const int n = 20;
  for (int i = 0; i < n; ++i) drv.at(2, 2).send(data(100 + i, c), 2);
  const std::pair<int, int> receivers[] = {{2, 2}, {2, 1}, {2, 3}, {3, 2}, {1, 2}};
  for (auto [x, y] : receivers) {
    f.queues(x, y).bind_input_queue(0, c);
    drv.at(x, y).expect(n);
    f.attach_agent(x, y, &drv.at(x, y));
  }
  ASSERT_TRUE(f.run().completed);
  for (auto [x, y] : receivers) {
    const auto& got = drv.at(x, y).received();
    ASSERT_EQ(got.size(), std::size_t(n)) << x << "," << y;
    for (int i = 0; i < n; ++i) EXPECT_EQ(got[i].w.payload, std::uint32_t(100 + i));
  }
  EXPECT_EQ(f.stats().wavelet_hops, std::uint64_t(4 * n));
}

TEST(VirtualChannels, BackPressuredColourDoesNotBlockAnotherOnTheSameLink) {
  // Colour 1 goes 0 -> 2 through PE 1 to a receiver that never consumes; colour 2 goes 0 -> 1 on the same link.
  Fabric f(small_arch(), 3, 1);
  route_east(f, 0, 0, 2, 1);
  route_east(f, 0, 0, 1, 2);
  Drivers drv(f);
  const int n = 60;
  for (int i = 0; i < n; ++i) {
    drv.at(0, 0).send(data(i, 1), 2);         // OQ 2: the colour that will be blocked
    drv.at(0, 0).send(data(1000 + i, 2), 3);  // OQ 3: the colour that must keep flowing
  }
  f.queues(2, 0).bind_input_queue(0, 1);
  drv.at(2, 0).consume_every(0);  // never consumes: colour 1 backs up to the source
  f.queues(1, 0).bind_input_queue(0, 2);
  drv.at(1, 0).expect(n);
  drv.attach({{0, 0}, {1, 0}, {2, 0}});
  // Colour 1 never drains, so the run ends in a deadlock report once colour 2 is done.
  EXPECT_THROW(f.run(), DeadlockError);
  const auto& got = drv.at(1, 0).received();
  ASSERT_EQ(got.size(), std::size_t(n)) << "colour 2 must flow while colour 1 is blocked";
  for (int i = 0; i < n; ++i) EXPECT_EQ(got[i].w.payload, std::uint32_t(1000 + i));
  // Colour 1 filled its IQ (6 words) and the buffers on its way, then stalled.
  EXPECT_EQ(f.queues(2, 0).iq(0).size(), 6);
  EXPECT_GT(f.stats().color_stalls[1], 0u);
  EXPECT_EQ(f.stats().color_stalls[2], 0u);
}

TEST(BackPressure, SlowReceiverLosesNothingAndKeepsOrder) {
  Fabric f(small_arch(), 6, 1);
  route_east(f, 0, 0, 5, 9);
  Drivers drv(f);
  const int n = 50, every = 7;
  for (int i = 0; i < n; ++i) drv.at(0, 0).send(data(i * 3 + 1, 9), 2);
  f.queues(5, 0).bind_input_queue(4, 9);  // a 2-word input queue
  drv.at(5, 0).consume_every(every);
  drv.at(5, 0).expect(n);
  drv.attach({{0, 0}, {5, 0}});
  ASSERT_TRUE(f.run().completed);
  const auto& got = drv.at(5, 0).received();
  ASSERT_EQ(got.size(), std::size_t(n));
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(got[i].w.payload, std::uint32_t(i * 3 + 1));
    if (i > 0) {
      EXPECT_EQ(got[i].at - got[i - 1].at, Cycle(every));
    }
  }
  EXPECT_GT(f.stats().stall_cycles, 0u);
  // The sender was held back: its last push happened long after n cycles.
  EXPECT_GT(drv.at(0, 0).send_cycles().back(), Cycle(n * every / 2));
}

// A line of `width` PEs: PE 0 sends n wavelets east, the last PE takes one every `every` cycles. Every wavelet
// must arrive in order and exactly `every` cycles after the previous one; returns the cycles PE 0 pushed them.
std::vector<Cycle> slow_line(const hw::ArchParams& arch, int width, int n, Cycle every) {
  Fabric f(arch, width, 1);
  route_east(f, 0, 0, width - 1, 9);
  Drivers drv(f);
  for (int i = 0; i < n; ++i) drv.at(0, 0).send(data(i + 100, 9), 2);
  f.queues(width - 1, 0).bind_input_queue(4, 9);
  drv.at(width - 1, 0).consume_every(every);
  drv.at(width - 1, 0).expect(n);
  drv.attach({{0, 0}, {width - 1, 0}});
  EXPECT_TRUE(f.run().completed);
  const auto& got = drv.at(width - 1, 0).received();
  EXPECT_EQ(got.size(), std::size_t(n));
  for (std::size_t i = 1; i < got.size(); ++i) {
    EXPECT_EQ(got[i].w.payload, std::uint32_t(i + 100));
    EXPECT_EQ(got[i].at - got[i - 1].at, every) << i;
  }
  return drv.at(0, 0).send_cycles();
}

// Wavelets held in router buffers and output queues for far longer than the 16-bit time windows (hw::Router::Entry,
// hw::WaveletQueue) leave exactly when room appears. 30 words are more than the routers and queues on the way hold.
TEST(BackPressure, WaveletsBlockedForTensOfThousandsOfCyclesLeaveOnTime) {
  EXPECT_EQ(slow_line(small_arch(), 4, 30, 50001).size(), 30u);
}

// The same with a 1000-cycle ramp and a receiver period just over 2^16 cycles: an output-queue word's age when the
// router takes it is then a few cycles modulo 2^16, which a plain 16-bit stamp would read as "still on the ramp".
// The sender refills its output queue once per period, exactly.
TEST(BackPressure, OutputQueueWordsWaitingBeyondTheStampWindowLeaveOnTime) {
  const Cycle every = 65536 + 7;
  hw::ArchParams a = small_arch(1, 1, 1000);
  a.simulation.deadlock_cycles = 10 * every;
  const std::vector<Cycle> pushed = slow_line(a, 3, 24, every);
  ASSERT_EQ(pushed.size(), 24u);
  for (std::size_t i = pushed.size() - 6; i < pushed.size(); ++i) EXPECT_EQ(pushed[i] - pushed[i - 1], every) << i;
}

// router.ramp_width: wavelets per cycle over the RAMP, each direction. Two streams of n wavelets into one CE (from
// the west on colour 3, from the east on colour 4) and two out of one CE (west on 5, east on 6): with width 2 both
// finish n - 1 cycles after the first wavelet, like one stream; with width 1 they share the RAMP and take 2n.
TEST(Ramp, WidthBoundsWaveletsPerCycleEachWay) {
  const int n = 40;
  for (int width : {1, 2}) {
    hw::ArchParams a = small_arch();
    a.router.ramp_width = width;
    const Cycle first = expected_arrival(a, 1);
    {  // router -> CE
      Fabric f(a, 3, 1);
      route_east(f, 0, 0, 1, 3);
      f.set_color_config(2, 0, 4, route(bit(Dir::Ramp), bit(Dir::West)));
      f.set_color_config(1, 0, 4, route(bit(Dir::East), bit(Dir::Ramp)));
      Drivers drv(f);
      for (int i = 0; i < n; ++i) {
        drv.at(0, 0).send(data(i, 3), 2);
        drv.at(2, 0).send(data(1000 + i, 4), 2);
      }
      f.queues(1, 0).bind_input_queue(0, 3);
      f.queues(1, 0).bind_input_queue(1, 4);
      drv.at(1, 0).expect(2 * n);
      drv.attach({{0, 0}, {1, 0}, {2, 0}});
      ASSERT_TRUE(f.run().completed);
      const auto& got = drv.at(1, 0).received();
      ASSERT_EQ(got.size(), std::size_t(2 * n));
      std::uint64_t sum = 0;
      for (const auto& g : got) sum += g.w.payload;
      EXPECT_EQ(sum, std::uint64_t(n * (n - 1) + 1000 * n));
      if (width == 2)
        EXPECT_EQ(got.back().at, first + Cycle(n - 1));
      else
        EXPECT_GE(got.back().at, first + Cycle(2 * n - 2));
    }
    {  // CE -> router
      Fabric f(a, 3, 1);
      f.set_color_config(1, 0, 5, route(bit(Dir::Ramp), bit(Dir::West)));
      f.set_color_config(0, 0, 5, route(bit(Dir::East), bit(Dir::Ramp)));
      route_east(f, 1, 0, 1, 6);
      Drivers drv(f);
      for (int i = 0; i < n; ++i) {
        drv.at(1, 0).send(data(i, 5), 2);
        drv.at(1, 0).send(data(i, 6), 3);
      }
      f.queues(0, 0).bind_input_queue(0, 5);
      f.queues(2, 0).bind_input_queue(0, 6);
      drv.at(0, 0).expect(n);
      drv.at(2, 0).expect(n);
      drv.attach({{0, 0}, {1, 0}, {2, 0}});
      ASSERT_TRUE(f.run().completed);
      const Cycle last = std::max(drv.at(0, 0).received().back().at, drv.at(2, 0).received().back().at);
      if (width == 2)
        EXPECT_EQ(last, first + Cycle(n - 1));
      else
        EXPECT_GE(last, first + Cycle(2 * n - 2));
    }
  }
}

}  // namespace
