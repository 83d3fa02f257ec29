// Cycle blocks (simulation.cycle_block): a busy, dense mesh swept once for several cycles must give exactly the
// result of simulating the cycles one by one: every statistic, every link's counters, every arrival cycle, the
// cycle the run stops at, for any number of host threads and any latencies.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "common/error.hpp"
#include "fabric/stats.hpp"
#include "fabric_fixture.hpp"

using namespace wafersim;
using namespace wafersim::fabric;
using namespace wafersim::bench;
using namespace wafersim::fabric::testing;

namespace {

struct Setting {
  int block = 1, threads = 1;
};

// Everything a run leaves behind that the engine's schedule could disturb (the count of cycles run in blocks
// aside: the runs with blocks must have used them).
nlohmann::json outcome(const Fabric& f) {
  nlohmann::json j = stats_to_json(f, 1 << 30);  // every link
  EXPECT_EQ(f.stats().block_cycles > 0, f.arch().simulation.cycle_block > 1);
  j.erase("block_cycles");
  j["router_evaluations"] = f.stats().router_cycles;
  j["agent_steps"] = f.stats().agent_steps;
  j["now"] = f.now();
  j["next_event"] = f.next_event();  // what the engine left for the next step (ready heads, frozen, wake-ups)
  return j;
}

hw::ArchParams arch_for(const Setting& s, hw::ArchParams a = {}) {
  a.simulation.cycle_block = s.block;
  a.simulation.block_min_pes = 1;  // blocks on these small meshes too
  a.simulation.host_threads = s.threads;
  a.simulation.parallel_min_routers = 1;
  return a;
}

// Synthetic traffic, stopped while the mesh is busy (cycles 137 and 257), again during the drain and at the end.
nlohmann::json run_traffic(const Setting& s, const hw::ArchParams& base, int width, int height,
                           TrafficConfig cfg = {}) {
  if (cfg.pattern == "uniform" && cfg.seed == 1) {
    cfg.rate = 0.6;
    cfg.hops = 3;
    cfg.seed = 3;
  }
  cfg.cycles = 400;
  Fabric f(arch_for(s, base), width, height);
  Traffic t(f, cfg);
  nlohmann::json j;
  for (const Cycle stop : {Cycle(137), Cycle(120), Cycle(160), Cycle(1000)}) {
    const RunResult r = f.run(stop);
    nlohmann::json& o = j.emplace_back(outcome(f));
    o["completed"] = r.completed;
    o["delivered"] = t.delivered();
    o["injected"] = t.injected();
  }
  return j;
}
nlohmann::json run_uniform(const Setting& s, const hw::ArchParams& base, int width, int height) {
  return run_traffic(s, base, width, height);
}

TEST(CycleBlocks, UniformTrafficGivesTheCycleByCycleResult) {
  // 70 PEs per row: a row spans two 64-bit words of the due bitmap; 60 rows: up to 3 bands for blocks of 2..3.
  const nlohmann::json ref = run_uniform({1, 1}, {}, 70, 60);
  EXPECT_GT(ref[0]["wavelet_hops"].get<std::uint64_t>(), 50000u);
  EXPECT_EQ(ref[3]["delivered"], ref[3]["injected"]);
  EXPECT_TRUE(ref[3]["completed"].get<bool>());
  for (const Setting s : {Setting{2, 1}, Setting{3, 2}, Setting{4, 1}, Setting{4, 2}, Setting{2, 3}, Setting{8, 2},
                          Setting{1, 2}}) {
    SCOPED_TRACE("block " + std::to_string(s.block) + ", threads " + std::to_string(s.threads));
    EXPECT_EQ(run_uniform(s, {}, 70, 60), ref);
  }
}

// A block longer than the ramp latency delivers wavelets sent inside the block; a zero router latency lets an
// injected wavelet leave in the cycle it was taken; a slower link spaces the hops.
TEST(CycleBlocks, LatenciesDoNotMatter) {
  for (const auto& [router, link, ramp] : {std::tuple{1, 1, 1}, std::tuple{0, 1, 1}, std::tuple{2, 3, 5}}) {
    SCOPED_TRACE("router " + std::to_string(router) + " link " + std::to_string(link) + " ramp " + std::to_string(ramp));
    const hw::ArchParams base = small_arch(router, link, ramp);
    const nlohmann::json ref = run_uniform({1, 1}, base, 33, 40);
    EXPECT_EQ(run_uniform({4, 2}, base, 33, 40), ref);
    EXPECT_EQ(run_uniform({6, 1}, base, 33, 40), ref);
  }
}

// Switches in every router of every row: each row streams data and ADVANCE commands east; the middle routers
// alternate between forwarding only and forwarding plus delivering (ring mode, no pop: every router acts).
std::vector<std::vector<StreamAgent::Received>> run_switch_rows(const Setting& s) {
  const int W = 24, H = 40;
  const hw::Color c = 4;
  Fabric f(arch_for(s, small_arch()), W, H);
  Drivers drv(f);
  hw::ControlPayload adv;
  adv.cmd[0] = hw::SwitchCmd::Advance;
  adv.ce_ignore.fill(true);
  adv.ce_ignore[0] = false;
  for (int y = 0; y < H; ++y) {
    f.set_color_config(0, y, c, route(bit(Dir::Ramp), bit(Dir::East)));
    for (int x = 1; x + 1 < W; ++x) {
      hw::ColorConfig m = route(bit(Dir::West), bit(Dir::East));
      m.positions[0] = {hw::SwitchPosition::Kind::Tx, bit(Dir::East) | bit(Dir::Ramp)};
      m.ring_mode = true;
      m.pop_mode = hw::PopMode::NoPop;
      f.set_color_config(x, y, c, m);
      f.queues(x, y).bind_input_queue(0, c);
    }
    f.set_color_config(W - 1, y, c, route(bit(Dir::West), bit(Dir::Ramp)));
    f.queues(W - 1, y).bind_input_queue(0, c);
    for (int i = 0; i < 150; ++i) {
      const bool ctl = (i + y) % 5 == 2;
      drv.at(0, y).send(ctl ? hw::Wavelet{adv.encode(), c, true} : data(std::uint32_t(i), c), 2);
    }
    // Receivers pop slowly in some rows, so back-pressure reaches back along the row.
    for (int x = 1; x < W; ++x) drv.at(x, y).consume_every(y % 3 == 0 ? 2 : 1);
    for (int x = 0; x < W; ++x) f.attach_agent(x, y, &drv.at(x, y));
  }
  EXPECT_TRUE(f.run().completed);
  EXPECT_EQ(f.stats().block_cycles > 0, s.block > 1);
  std::vector<std::vector<StreamAgent::Received>> logs;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) logs.push_back(drv.at(x, y).received());
  logs.push_back({StreamAgent::Received{{}, f.now(), 0}});
  return logs;
}

bool same(const std::vector<std::vector<StreamAgent::Received>>& a,
          const std::vector<std::vector<StreamAgent::Received>>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].size() != b[i].size()) return false;
    for (std::size_t k = 0; k < a[i].size(); ++k) {
      const auto &x = a[i][k], &y = b[i][k];
      if (x.at != y.at || x.iq != y.iq || x.w.payload != y.w.payload || x.w.control != y.w.control) return false;
    }
  }
  return true;
}

TEST(CycleBlocks, SwitchesMoveInTheSameCycles) {
  const auto ref = run_switch_rows({1, 1});
  std::size_t controls = 0;
  for (const auto& log : ref)
    for (const auto& r : log) controls += r.w.control;
  EXPECT_GT(controls, 1000u);  // control wavelets reached the CEs where the switch delivered them
  for (const Setting s : {Setting{4, 1}, Setting{4, 2}, Setting{2, 3}}) {
    SCOPED_TRACE("block " + std::to_string(s.block) + ", threads " + std::to_string(s.threads));
    EXPECT_TRUE(same(run_switch_rows(s), ref));
  }
}

// Random meshes, latencies, buffer depths, rates, patterns, block lengths and thread counts (seeded).
TEST(CycleBlocks, RandomSettingsGiveTheCycleByCycleResult) {
  std::mt19937_64 rng(2026);
  for (int it = 0; it < 12; ++it) {
    const int W = 9 + int(rng() % 40), H = 12 + int(rng() % 60);
    const int router = int(rng() % 3), link = 1 + int(rng() % 3), ramp = 1 + int(rng() % 6);
    hw::ArchParams base = small_arch(router, link, ramp);
    base.router.color_buffer_depth = std::min(8, router + link + 1 + int(rng() % 3));
    TrafficConfig cfg;
    cfg.pattern = rng() % 4 == 0 ? "row-broadcast" : "uniform";
    cfg.rate = 0.2 + 0.7 * double(rng() % 100) / 100;
    cfg.hops = 1 + int(rng() % 4);
    cfg.seed = rng() | 2;
    const Setting s{2 + int(rng() % 12), 1 + int(rng() % 4)};
    SCOPED_TRACE("iteration " + std::to_string(it) + ": " + std::to_string(W) + "x" + std::to_string(H) + " " +
                 cfg.pattern + ", block " + std::to_string(s.block) + ", threads " + std::to_string(s.threads));
    EXPECT_EQ(run_traffic(s, base, W, H, cfg), run_traffic({1, 1}, base, W, H, cfg));
  }
}

// An isolated agent may push output words from its teardown handler: inside a block the handler runs in its own
// cycle (the word's stamp, the router's activation), like the cycle-by-cycle engine.
struct TeardownPusher : StreamAgent {
  hw::PeQueues* q = nullptr;
  std::vector<Cycle> teardowns;
  void on_teardown(hw::Color, Cycle now) override {
    teardowns.push_back(now);
    q->push_output(3, hw::Wavelet{std::uint32_t(now), 6, false}, now);
  }
};

std::pair<std::vector<std::vector<StreamAgent::Received>>, nlohmann::json> run_teardowns(const Setting& s) {
  const int W = 24, H = 40;
  hw::ArchParams a = arch_for(s, small_arch());
  a.simulation.deadlock_cycles = 100;
  Fabric f(a, W, H);
  std::vector<std::unique_ptr<TeardownPusher>> agents;
  hw::ControlPayload td;
  td.cmd[0] = hw::SwitchCmd::Teardown;
  td.ce_ignore.fill(true);
  for (int y = 0; y < H; ++y) {
    f.set_color_config(0, y, 4, route(bit(Dir::Ramp), bit(Dir::East)));
    for (int x = 1; x + 1 < W; ++x) f.set_color_config(x, y, 4, route(bit(Dir::West), bit(Dir::East) | bit(Dir::Ramp)));
    f.set_color_config(W - 1, y, 4, route(bit(Dir::West), bit(Dir::Ramp)));
    for (int x = 0; x < W; ++x) {
      f.set_color_config(x, y, 6, route(bit(Dir::Ramp), bit(Dir::Ramp)));  // the handler's word, back to itself
      if (x > 0) f.queues(x, y).bind_input_queue(0, 4);
      f.queues(x, y).bind_input_queue(1, 6);
      agents.push_back(std::make_unique<TeardownPusher>());
      agents.back()->q = &f.queues(x, y);
    }
    for (int i = 0; i < 200; ++i)
      agents[std::size_t(y) * W]->send(i == 20 + 7 * (y % 5) ? hw::Wavelet{td.encode(), 4, true}
                                                              : data(std::uint32_t(i), 4), 2);
    for (int x = 0; x < W; ++x) f.attach_agent(x, y, agents[std::size_t(y) * W + x].get());
  }
  nlohmann::json j;
  try {
    f.run(3000);
  } catch (const DeadlockError& e) {  // every row's colour 4 stays torn down
    j["deadlock"] = e.what();
  }
  j["outcome"] = outcome(f);
  std::vector<std::vector<StreamAgent::Received>> logs;
  for (const auto& a : agents) {
    logs.push_back(a->received());
    j["teardowns"].push_back(a->teardowns);
  }
  return {logs, j};
}

TEST(CycleBlocks, TeardownHandlersRunInTheirCycle) {
  const auto ref = run_teardowns({1, 1});
  EXPECT_TRUE(ref.second.contains("deadlock"));
  for (const Setting s : {Setting{4, 1}, Setting{4, 2}}) {
    SCOPED_TRACE("block " + std::to_string(s.block) + ", threads " + std::to_string(s.threads));
    const auto got = run_teardowns(s);
    EXPECT_EQ(got.second, ref.second);
    EXPECT_TRUE(same(got.first, ref.first));
  }
}

}  // namespace
