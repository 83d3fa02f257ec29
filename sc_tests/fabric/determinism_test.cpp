// Same configuration and seed: identical statistics, cycle for cycle.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fabric/stats.hpp"
#include "fabric_fixture.hpp"

using namespace wafersim;
using namespace wafersim::fabric;
using namespace wafersim::bench;

namespace {

nlohmann::json run_uniform(std::uint64_t seed, int host_threads = 1, int width = 16, int height = 12,
                           Cycle cycles = 1500, int huge_pages = 1) {
  hw::ArchParams a;
  a.simulation.host_threads = host_threads;
  a.simulation.parallel_min_routers = 1;  // bands and parallel agent steps even on this small mesh
  a.simulation.huge_pages = huge_pages;
  Fabric f(a, width, height);
  TrafficConfig cfg;
  cfg.pattern = "uniform";
  cfg.rate = 0.6;
  cfg.hops = 3;
  cfg.seed = seed;
  cfg.cycles = cycles;
  Traffic t(f, cfg);
  f.run(cycles + 500);
  nlohmann::json j = stats_to_json(f, 20);
  j["delivered"] = t.delivered();
  j["injected"] = t.injected();
  j["router_evaluations"] = f.stats().router_cycles;
  j["agent_steps"] = f.stats().agent_steps;
  return j;
}

TEST(Determinism, TwoRunsGiveIdenticalStatistics) {
  const nlohmann::json a = run_uniform(7), b = run_uniform(7);
  EXPECT_EQ(a, b);
  EXPECT_GT(a["wavelet_hops"].get<std::uint64_t>(), 10000u);
  // Everything injected was delivered after the drain, 3 hops each.
  EXPECT_EQ(a["delivered"], a["injected"]);
  EXPECT_EQ(a["wavelet_hops"].get<std::uint64_t>(), 3 * a["injected"].get<std::uint64_t>());
}

// The router phase runs in bands of rows on the host threads and isolated agents step in parallel; the outcome
// must be that of one thread, statistic for statistic.
TEST(Determinism, HostThreadCountDoesNotChangeTheResult) {
  const nlohmann::json one = run_uniform(11, 1);
  for (int threads : {2, 3, 5}) {
    SCOPED_TRACE(threads);
    EXPECT_EQ(run_uniform(11, threads), one);
  }
}

// 2 MiB pages (asked for on meshes of 128x128 PEs and more) are a host hint: same statistics without them.
TEST(Determinism, HugePagesDoNotChangeTheResult) {
  const nlohmann::json with = run_uniform(5, 2, 160, 110, 60, 1);
  EXPECT_GT(with["wavelet_hops"].get<std::uint64_t>(), 100000u);
  EXPECT_EQ(run_uniform(5, 2, 160, 110, 60, 0), with);
}

// An agent that claims to be isolated but asks the fabric for a wake-up while stepping on a host thread: the
// error reaches the caller of run() as an exception, not as a crash of the worker thread.
TEST(Determinism, AnIsolatedAgentCallingWakeIsReportedToTheCaller) {
  struct Liar final : hw::PeAgent {
    Fabric* f = nullptr;
    int pe = 0;
    Cycle step(Cycle now, hw::PeQueues&) override {
      f->wake(pe, now + 5);
      return now + 1;
    }
    bool busy() const override { return true; }
    bool isolated() const override { return true; }
  };
  hw::ArchParams a;
  a.simulation.host_threads = 2;
  a.simulation.parallel_min_routers = 1;
  Fabric f(a, 8, 8);
  TrafficConfig cfg;
  cfg.pattern = "uniform";
  cfg.cycles = 100;
  Traffic t(f, cfg);  // routers stay busy, so the cycles run in bands
  std::vector<Liar> liars(8);  // the bottom row: stepped by the worker thread
  for (int x = 0; x < 8; ++x) {
    liars[x].f = &f;
    liars[x].pe = f.index(x, 7);
    f.attach_agent(x, 7, &liars[x], 3);
  }
  EXPECT_THROW(f.run(50), std::logic_error);
}

TEST(Determinism, ADifferentSeedGivesDifferentTraffic) {
  EXPECT_NE(run_uniform(7)["wavelet_hops"], run_uniform(8)["wavelet_hops"]);
}

}  // namespace
