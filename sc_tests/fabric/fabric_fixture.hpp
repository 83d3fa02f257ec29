// Helpers for fabric tests: small meshes with WSE-2 parameters and straight-line routes.
#pragma once
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "bench/traffic.hpp"
#include "fabric/fabric.hpp"

namespace wafersim::fabric::testing {

using bench::StreamAgent;
using hw::bit;
using hw::Dir;

inline hw::ArchParams small_arch(int router_latency = 1, int link_latency = 1, int ramp_latency = 2) {
  hw::ArchParams a;
  a.router.router_latency = router_latency;
  a.router.link_latency = link_latency;
  a.router.ramp_latency = ramp_latency;
  a.router.color_buffer_depth = router_latency + link_latency + 1;
  a.simulation.deadlock_cycles = 500;
  return a;
}

inline hw::ColorConfig route(hw::DirMask rx, hw::DirMask tx) {
  hw::ColorConfig c;
  c.rx = rx;
  c.tx = tx;
  return c;
}

// Colour `c` from (x0, y) eastwards to (x0 + d, y): the source injects from its RAMP, the end delivers to RAMP.
inline void route_east(Fabric& f, int x0, int y, int d, hw::Color c) {
  for (int j = 0; j <= d; ++j) {
    hw::ColorConfig cfg = route(j == 0 ? bit(Dir::Ramp) : bit(Dir::West), j == d ? bit(Dir::Ramp) : bit(Dir::East));
    f.set_color_config(x0 + j, y, c, cfg);
  }
}

// One stream agent per PE of the mesh, owned by the fixture.
struct Drivers {
  explicit Drivers(Fabric& f) : fabric(f) {
    for (int y = 0; y < f.height(); ++y)
      for (int x = 0; x < f.width(); ++x) agents.push_back(std::make_unique<StreamAgent>());
  }
  StreamAgent& at(int x, int y) { return *agents[fabric.index(x, y)]; }
  // Attaches the agents of PEs that have something to do (sends queued, or given an expectation).
  void attach(std::initializer_list<std::pair<int, int>> pes) {
    for (auto [x, y] : pes) fabric.attach_agent(x, y, &at(x, y));
  }
  Fabric& fabric;
  std::vector<std::unique_ptr<StreamAgent>> agents;
};

inline hw::Wavelet data(std::uint32_t payload, hw::Color c) { return hw::Wavelet{payload, c, false}; }

}  // namespace wafersim::fabric::testing
