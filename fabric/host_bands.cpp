#include "fabric/host_bands.hpp"

#include <algorithm>
#include <thread>

namespace wafersim::fabric::engine {

int HostBands::host_threads(const hw::ArchParams& arch, std::size_t active) {
  if (active < arch.simulation.parallel_min_routers) return 1;
  return arch.simulation.host_threads > 0 ? arch.simulation.host_threads
                                          : int(std::max(1u, std::thread::hardware_concurrency()));
}

// Between two bands, two boundary rows (s-1, s) are evaluated after the bands: a router reads and writes only
// itself and its four neighbours, so the band below (rows < s-1) and the band above (rows > s) touch disjoint rows
// and can run at once. Within a cycle the outcome does not depend on the evaluation order (sends only add to a
// neighbour's buffer, a colour has one possible sender per router, output-queue injections precede every send
// into their router, frees come after the phase), so any banding gives the result of the plain PE-order sweep.
void HostBands::plan(const Mesh& mesh, const std::vector<int>& active, int threads, Cycle now) {
  const int width = mesh.width, height = mesh.height;
  const std::size_t n = active.size();
  std::vector<int> splits;  // boundary rows s: rows s-1 and s are evaluated after the bands
  ensure_shares(threads);
  double cumulative = 0;
  for (int i = 1; i < threads; ++i) {
    cumulative += band_share[i - 1];
    int s = active[std::min(n - 1, std::size_t(double(n) * cumulative))] / width;
    s = std::max(s, splits.empty() ? 1 : splits.back() + 3);  // keeps every band at least one row high
    if (s >= height - 1) break;
    splits.push_back(s);
  }
  const int nb = int(splits.size()) + 1;
  bands.assign(nb, Band{});
  if (lanes.size() < std::size_t(2 * nb - 1)) lanes.resize(2 * nb - 1);
  auto first_at_or_after = [&](int row) {
    return std::size_t(std::lower_bound(active.begin(), active.end(), row * width) - active.begin());
  };
  for (int b = 0; b < nb; ++b) {
    Band& band = bands[b];
    const int lo = b == 0 ? 0 : splits[b - 1] + 1;          // first row evaluated
    const int hi = b == nb - 1 ? height : splits[b] - 1;    // first row not evaluated
    const int inj_lo = b == 0 ? 0 : splits[b - 1];          // own rows + the boundary rows this band touches
    const int inj_hi = b == nb - 1 ? height : splits[b];
    band.eval_begin = first_at_or_after(lo);
    band.eval_end = first_at_or_after(hi);
    band.inject_begin = first_at_or_after(inj_lo);
    band.inject_end = first_at_or_after(inj_hi);
    band.pe_lo = inj_lo * width;
    band.free_lo = (b == 0 ? 0 : lo + 1) * width;           // rows next to a boundary keep their frees
    band.free_hi = (b == nb - 1 ? height : hi - 1) * width;
  }
  // Boundary lanes (odd) evaluate rows s-1 and s of their split: no injections, no early frees.
  boundary_ranges.resize(splits.size());
  for (std::size_t i = 0; i < splits.size(); ++i)
    boundary_ranges[i] = {first_at_or_after(splits[i] - 1), first_at_or_after(splits[i] + 1)};
  for (int li = 0; li < n_lanes(); ++li) lanes[li].reset(now);
}

void HostBands::adapt_band_shares(int n_bands) {
  if (!pool) return;
  const std::vector<double> busy = pool->take_busy();
  if (n_bands < 2 || std::size_t(n_bands) != band_share.size()) return;
  const std::size_t nb = band_share.size();
  double total = 0, rate_sum = 0;
  std::vector<double> rate(nb);
  for (std::size_t b = 0; b < nb; ++b) total += busy[b];
  if (total <= 0) return;
  for (std::size_t b = 0; b < nb; ++b) rate_sum += rate[b] = band_share[b] / std::max(busy[b], total * 1e-3);
  double sum = 0;
  for (std::size_t b = 0; b < nb; ++b)
    sum += band_share[b] = std::clamp(0.5 * band_share[b] + 0.5 * rate[b] / rate_sum, 0.2 / double(nb), 1.0);
  for (double& x : band_share) x /= sum;
}

void HostBands::sweep(RouterPhase& rp, int li) {
  Lane& lane = lanes[li];
  const bool boundary = li % 2 == 1;
  std::size_t begin, end, inj = 0, inj_end = 0;
  int free_lo = 0, free_hi = 0;
  if (boundary) {
    begin = boundary_ranges[li / 2].first;
    end = boundary_ranges[li / 2].second;
  } else {
    const Band& b = bands[li / 2];
    begin = b.eval_begin;
    end = b.eval_end;
    inj = b.inject_begin;
    inj_end = b.inject_end;
    free_lo = b.free_lo;
    free_hi = b.free_hi;
  }
  const int width = rp.mesh.width;
  hw::Router* const routers = rp.mesh.routers.data();
  const int* const act = rp.active.data();
  const std::size_t n_routers = rp.mesh.routers.size();
  for (std::size_t ai = begin; ai < end; ++ai) {
    const int pe = act[ai];
    // The active set is memory-bound on large meshes: fetch the routers evaluated later (far enough ahead to
    // cover a memory access when a router takes little work, as in a broadcast), and the queues of the routers
    // the injection cursor (a row ahead) reaches a little later.
    if (ai + 16 < end) __builtin_prefetch(&routers[act[ai + 16]]);
    if (ai + 8 < end) RouterPhase::prefetch_colors(routers[act[ai + 8]]);
    // South neighbours are checked for room a row before their own evaluation. (Fetching the neighbours' colour
    // states as well cost more than it saved: slower at 64x64 and for broadcasts, 3% faster at 256x256 uniform.)
    if (std::size_t(pe + width + 16) < n_routers) __builtin_prefetch(&routers[pe + width + 16]);
    // The injection cursor runs a row ahead.
    if (inj < inj_end) rp.prefetch_injection(act, inj, inj_end);
    // Output-queue injections of every router a neighbour of this one could send into, before that send.
    for (; inj < inj_end && act[inj] <= pe + width; ++inj) rp.inject(lane, act[inj]);
    // Early frees: a data wavelet's slot is released during the sweep once its router is more than one row behind
    // the router being evaluated. Invariant: nothing reads or writes such a router again in this cycle (a router
    // touches only itself and its four neighbours), so this gives the result of releasing after the phase, while
    // the router's state is still in cache. Routers next to a boundary row wait (it is evaluated later).
    for (; lane.free_head < lane.frees.size() && lane.frees[lane.free_head].pe + width < pe; ++lane.free_head) {
      const Free& fr = lane.frees[lane.free_head];
      if (fr.pe >= free_lo && fr.pe < free_hi) rp.release(fr);
      else lane.late_frees.push_back(fr);
    }
    rp.evaluate(lane, pe);
  }
  for (; inj < inj_end; ++inj) rp.inject(lane, act[inj]);
  lane.evaluated += end - begin;
}

}  // namespace wafersim::fabric::engine
