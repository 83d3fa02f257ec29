// Same configuration and seed: identical statistics, cycle for cycle.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fabric/stats.hpp"
#include "fabric_fixture.hpp"

using namespace wafersim;
using namespace wafersim::fabric;

namespace {

nlohmann::json run_uniform(std::uint64_t seed) {
  hw::ArchParams a;
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

TEST(Determinism, ADifferentSeedGivesDifferentTraffic) {
  EXPECT_NE(run_uniform(7)["wavelet_hops"], run_uniform(8)["wavelet_hops"]);
}

}  // namespace
