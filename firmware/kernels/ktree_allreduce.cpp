#include "firmware/kernels/ktree_allreduce.hpp"

#include <algorithm>
#include <cmath>

#include "firmware/kernels/stream_tree.hpp"

namespace wafersim::kernels {

int ktree_default_groups(int P) { return std::clamp(int(std::lround(std::sqrt(double(P)))), 1, std::max(P, 1)); }

std::vector<KTreeGroup> ktree_groups(int P, int G) {
  G = std::clamp(G, 1, P);
  std::vector<KTreeGroup> groups;
  int first = 0;
  for (int j = 0; j < G; ++j) {
    const int size = P / G + (j < P % G ? 1 : 0);
    groups.push_back({first, first + size - 1, first + size / 2});
    first += size;
  }
  return groups;
}

CollectiveLayout ktree_allreduce(const CollectiveConfig& cfg, const hw::ArchParams& arch, KTreeOptions opt) {
  validate(cfg, "ktree_allreduce");
  const int P = cfg.line_length();
  ColorPool pool(cfg.colors, arch, "ktree_allreduce");
  LinePlan plan(P);
  if (P > 1) {
    const Color a0 = pool.take("phase-1 even links"), a1 = pool.take("phase-1 odd links");
    const Color b0 = pool.take("phase-2 even links"), b1 = pool.take("phase-2 odd links");
    const Color bc = pool.take("the broadcast");
    const auto groups = ktree_groups(P, opt.groups > 0 ? opt.groups : ktree_default_groups(P));
    const int G = int(groups.size()), mid = G / 2;
    // Phase 2 first: the stream from root j enters group j+1 (or j-1) at the last member of that group's near side.
    for (int j = 0; j < G; ++j) {
      if (j == mid) continue;
      const int d = j < mid ? 1 : -1;
      const KTreeGroup& to = groups[j + d];
      int entry = to.root;
      if (d > 0 && to.root > to.first) entry = to.root - 1;
      if (d < 0 && to.root < to.last) entry = to.root + 1;
      const int link = std::min(j, j + d);
      plan.stream(groups[j].root, entry, link % 2 ? b1 : b0);
    }
    // Phase 1: both sides of every group towards its root (the entry PE's phase-2 input is joined there).
    for (const KTreeGroup& g : groups) {
      if (g.root > g.first) plan.chain(g.first, g.root, a0, a1);
      if (g.root < g.last) plan.chain(g.last, g.root, a0, a1);
    }
    // Inputs in arrival order: phase-1 streams (near) before phase-2 streams (far).
    for (int p = 0; p < P; ++p) {
      auto& in = plan.node(p).inputs;
      std::stable_partition(in.begin(), in.end(), [&](Color c) { return c == a0 || c == a1; });
    }
    plan.multicast(groups[mid].root, 0, P - 1, bc, true);
    plan.assign_loopbacks(pool);
  }
  return build_stream_layout(cfg, plan, "ktree_allreduce", "allreduce");
}

}  // namespace wafersim::kernels
