#include "firmware/kernels/ktree_allreduce.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <utility>

#include "common/error.hpp"

namespace wafersim::kernels {

int ktree_default_groups(int P, int k) {
  const double g = k == 3 ? std::pow(double(P), 2.0 / 3.0) : std::sqrt(double(P));
  return std::clamp(int(std::lround(g)), 1, std::max(P, 1));
}
int ktree_default_groups2(int P) { return std::max(1, int(std::lround(std::cbrt(double(P))))); }

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

PlanPtr ktree_plan(const CollectiveConfig& cfg, const hw::ArchParams& arch, KTreeOptions opt) {
  validate(cfg, "ktree_allreduce");
  if (opt.k != 2 && opt.k != 3) throw ConfigError("ktree_allreduce: k = " + std::to_string(opt.k) + " (2 or 3 supported)");
  if (opt.staged_joins && (opt.k != 2 || cfg.acc_type() != cfg.dtype || cfg.simd32))
    throw ConfigError("ktree_allreduce: staged joins need k = 2 (k = " + std::to_string(opt.k) +
                      ") and partials in the data type without simd32 packing (the join keeps a partial in x)");
  const int P = cfg.line_length();
  ColorPool pool(cfg.colors, arch, "ktree_allreduce");
  auto out = std::make_shared<CollectivePlan>(
      CollectivePlan{.kind = Collective::KTree, .name = "ktree_allreduce", .cfg = cfg, .line = LinePlan(P)});
  LinePlan& plan = out->line;
  if (P > 1) {
    const Color a0 = pool.take("phase-1 even links"), a1 = pool.take("phase-1 odd links");
    const Color b0 = pool.take("phase-2 even links"), b1 = pool.take("phase-2 odd links");
    Color c0 = kNoColor, c1 = kNoColor;
    if (opt.k == 3) {
      c0 = pool.take("phase-3 even links");
      c1 = pool.take("phase-3 odd links");
    }
    const Color bc = pool.take("the broadcast");
    const auto groups = ktree_groups(P, opt.groups > 0 ? opt.groups : ktree_default_groups(P, opt.k));
    std::vector<int> group_of(P);
    for (int j = 0; j < int(groups.size()); ++j)
      for (int p = groups[j].first; p <= groups[j].last; ++p) group_of[p] = j;

    // A stream heading for root T from the low side (d = +1) or the high side (d = -1) enters at T's neighbour on
    // that side when the neighbour is a phase-1 chain member of T's group: it adds the stream into its chain op, so
    // no PE joins more than three streams and the roots keep their input queues.
    auto entry = [&](int target, int d) {
      const int n = target - d;
      return (n >= 0 && n < P && group_of[n] == group_of[target]) ? n : target;
    };
    // Roots `list` (positions) cut into `parts` groups of consecutive entries; each group reduces to its middle
    // entry over pass-through routes on e0/e1. Returns the group roots.
    auto level = [&](const std::vector<int>& list, int parts, Color e0, Color e1) {
      std::vector<int> roots;
      for (const KTreeGroup& g : ktree_groups(int(list.size()), parts)) {
        for (int i = g.first; i <= g.last; ++i) {
          if (i == g.root) continue;
          const int d = i < g.root ? 1 : -1;
          plan.stream(list[i], entry(list[i + d], d), std::min(i, i + d) % 2 ? e1 : e0);
        }
        roots.push_back(list[g.root]);
      }
      return roots;
    };
    std::vector<int> roots1;
    for (const KTreeGroup& g : groups) roots1.push_back(g.root);
    std::vector<int> top;
    if (opt.k == 2) {
      top = level(roots1, 1, b0, b1);
    } else {
      const int parts = opt.groups2 > 0 ? opt.groups2 : ktree_default_groups2(P);
      top = level(level(roots1, parts, b0, b1), 1, c0, c1);
    }
    // Phase 1: both sides of every group towards its root.
    for (const KTreeGroup& g : groups) {
      if (g.root > g.first) plan.chain(g.first, g.root, a0, a1);
      if (g.root < g.last) plan.chain(g.last, g.root, a0, a1);
    }
    // Inputs in arrival order: phase-1 (near) streams first, then the higher levels.
    for (int p = 0; p < P; ++p) {
      StreamNode& n = plan.node(p);
      std::vector<std::pair<Color, int>> in;
      for (std::size_t i = 0; i < n.inputs.size(); ++i) in.emplace_back(n.inputs[i], n.from[i]);
      std::stable_partition(in.begin(), in.end(), [&](const auto& e) { return e.first == a0 || e.first == a1; });
      std::stable_partition(in.begin(), in.end(), [&](const auto& e) {
        return e.first == a0 || e.first == a1 || e.first == b0 || e.first == b1;
      });
      for (std::size_t i = 0; i < in.size(); ++i) std::tie(n.inputs[i], n.from[i]) = in[i];
    }
    plan.multicast(top.at(0), 0, P - 1, bc, true);
    if (opt.staged_joins) plan.stage_joins("ktree_allreduce");
    else plan.assign_loopbacks(pool);
  }
  return out;
}

CollectiveLayout ktree_allreduce(const CollectiveConfig& cfg, const hw::ArchParams& arch, KTreeOptions opt) {
  return collective_layout({ktree_plan(cfg, arch, opt)}, "ktree_allreduce", "allreduce");
}

}  // namespace wafersim::kernels
