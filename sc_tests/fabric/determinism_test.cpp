// Same configuration and seed: identical statistics, cycle for cycle.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fabric/stats.hpp"
#include "fabric_fixture.hpp"

using namespace wafersim;
using namespace wafersim::fabric;

namespace {

nlohmann::json run_uniform(std::uint64_t seed, int host_threads = 1) {
  hw::ArchParams a;
  a.simulation.host_threads = host_threads;
  a.simulation.parallel_min_routers = 1;  // bands and parallel agent steps even on this small mesh
  Fabric f(a, 16, 12);
  TrafficConfig cfg;
  cfg.pattern = "uniform";
  cfg.rate = 0.6;
  cfg.hops = 3;
  cfg.seed = seed;
  cfg.cycles = 1500;
  Traffic t(f, cfg);
  f.run(2000);
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

TEST(Determinism, ADifferentSeedGivesDifferentTraffic) {
  EXPECT_NE(run_uniform(7)["wavelet_hops"], run_uniform(8)["wavelet_hops"]);
}

}  // namespace
