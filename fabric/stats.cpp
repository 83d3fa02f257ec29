#include "fabric/stats.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "fabric/fabric.hpp"

namespace wafersim::fabric {

std::vector<LinkUse> busiest_links(const Fabric& fabric, int top) {
  std::vector<LinkUse> links;
  for (int y = 0; y < fabric.height(); ++y) {
    for (int x = 0; x < fabric.width(); ++x) {
      const auto& r = fabric.router(x, y);
      std::array<LinkUse, hw::kNumPorts> per_port{};
      for (int o = 0; o < hw::kNumPorts; ++o) per_port[o].wavelets = r.sent(o);
      for (const auto& cs : r.colors())
        for (int o = 0; o < hw::kNumPorts; ++o) per_port[o].stall_cycles += r.stats(cs).stalls[o];
      for (int o = 0; o < hw::kNumPorts; ++o) {
        if (per_port[o].wavelets == 0 && per_port[o].stall_cycles == 0) continue;
        per_port[o].x = x;
        per_port[o].y = y;
        per_port[o].out = static_cast<hw::Dir>(o);
        links.push_back(per_port[o]);
      }
    }
  }
  const std::size_t n = std::min<std::size_t>(links.size(), std::max(top, 0));
  std::partial_sort(links.begin(), links.begin() + n, links.end(), [](const LinkUse& a, const LinkUse& b) {
    if (a.wavelets != b.wavelets) return a.wavelets > b.wavelets;
    if (a.y != b.y) return a.y < b.y;
    if (a.x != b.x) return a.x < b.x;
    return a.out < b.out;
  });
  links.resize(n);
  return links;
}

nlohmann::json stats_to_json(const Fabric& fabric, int top_links) {
  const Stats& s = fabric.stats();
  nlohmann::json j;
  j["wavelet_hops"] = s.wavelet_hops;
  j["ramp_injections"] = s.ramp_injections;
  j["ramp_deliveries"] = s.ramp_deliveries;
  j["filtered"] = s.filtered;
  j["stall_cycles"] = s.stall_cycles;
  j["router_evaluations"] = s.router_cycles;
  j["agent_steps"] = s.agent_steps;
  j["block_cycles"] = s.block_cycles;
  nlohmann::json colors = nlohmann::json::object();
  for (int c = 0; c < hw::kMaxColors; ++c)
    if (s.color_hops[c] || s.color_stalls[c])
      colors[std::to_string(c)] = {{"wavelet_hops", s.color_hops[c]}, {"stall_cycles", s.color_stalls[c]}};
  j["per_color"] = colors;
  nlohmann::json links = nlohmann::json::array();
  for (const auto& l : busiest_links(fabric, top_links))
    links.push_back({{"x", l.x}, {"y", l.y}, {"port", hw::dir_name(l.out)}, {"wavelets", l.wavelets},
                     {"stall_cycles", l.stall_cycles}});
  j["busiest_links"] = links;
  return j;
}

}  // namespace wafersim::fabric
