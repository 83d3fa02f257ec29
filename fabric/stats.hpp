// Statistics of a fabric run: totals per run and per colour, and per-link counters that live in the routers
// (hw::Router::sent per port, stalls per colour and port) and are summarised on demand (busiest links).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "hw/wavelet.hpp"

namespace wafersim::fabric {

class Fabric;

struct Stats {
  std::uint64_t cycles = 0;           // simulated cycles (last cycle with activity + 1)
  std::uint64_t wavelet_hops = 0;     // router-to-router link traversals
  std::uint64_t ramp_injections = 0;  // wavelets taken from output queues onto the fabric
  std::uint64_t ramp_deliveries = 0;  // wavelets delivered into input queues
  std::uint64_t filtered = 0;         // wavelets a filter kept from a CE
  std::uint64_t stall_cycles = 0;     // (colour, output) pairs in which a ready wavelet found no room
  std::uint64_t router_cycles = 0;    // router evaluations (cost of the simulation, not of the hardware)
  std::uint64_t agent_steps = 0;
  std::uint64_t block_cycles = 0;     // cycles simulated in blocks (simulation.cycle_block; engine cost, like router_cycles)
  std::array<std::uint64_t, hw::kMaxColors> color_hops{};    // link traversals per colour
  std::array<std::uint64_t, hw::kMaxColors> color_stalls{};  // stall cycles per colour
};

struct LinkUse {
  int x = 0, y = 0;
  hw::Dir out = hw::Dir::East;
  std::uint64_t wavelets = 0;
  std::uint64_t stall_cycles = 0;
};

// The `top` links (router output ports, RAMP included) that carried the most wavelets, ties broken by position.
std::vector<LinkUse> busiest_links(const Fabric& fabric, int top);
nlohmann::json stats_to_json(const Fabric& fabric, int top_links = 10);

}  // namespace wafersim::fabric
