// Host threads for one cycle's router phase: the active routers split into bands of rows, one per thread, with two
// boundary rows between bands evaluated after them, each band and boundary collecting its results in a lane.
// Internal to the fabric engine.
#pragma once
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "common/worker_pool.hpp"
#include "fabric/lane.hpp"
#include "fabric/router_phase.hpp"

namespace wafersim::fabric::engine {

struct HostBands {
  // A band of rows evaluated by one thread: routers active[eval_begin, eval_end) are evaluated in PE order,
  // routers active[inject_begin, inject_end) take a wavelet from their output queues first (each before any
  // neighbour sends into it), and data frees of PEs in [free_lo, free_hi) may be released during the sweep.
  struct Band {
    std::size_t eval_begin = 0, eval_end = 0, inject_begin = 0, inject_end = 0;
    int free_lo = 0, free_hi = 0;
    int pe_lo = 0;  // first PE of the rows it injects at; its agents' range starts here (rounded down to 64)
  };
  std::vector<Lane> lanes;  // band 0, boundary 1, band 1, boundary 2, ... (PE order)
  std::vector<Band> bands;  // lanes[2i] evaluates bands[i]
  std::vector<std::pair<std::size_t, std::size_t>> boundary_ranges;  // lanes[2i+1]: active[first, second)
  // Fraction of the work each band gets, adapted to how long each thread took last step (threads run at
  // different speeds on a shared host). Any split gives the same result, so this only moves work around. Cycle
  // blocks split their rows with the same shares.
  std::vector<double> band_share;
  std::unique_ptr<WorkerPool> pool;  // band 0 runs on the calling thread, band i on worker i-1

  int n_lanes() const { return 2 * int(bands.size()) - 1; }
  // Host threads for a step with about `active` routers to evaluate (one below simulation.parallel_min_routers).
  static int host_threads(const hw::ArchParams& arch, std::size_t active);
  // Host threads `threads` for `n_bands` bands.
  void ensure_pool(int threads, int n_bands) {
    if (!pool || pool->workers() + 1 < n_bands) pool = std::make_unique<WorkerPool>(threads - 1);
  }
  // Sets band_share for `threads` bands unless it has that many already.
  void ensure_shares(int threads) {
    if (band_share.size() != std::size_t(threads)) band_share.assign(threads, 1.0 / threads);
  }
  // After a step run in `n_bands` bands: give each band a share of the rows in proportion to its thread's speed.
  void adapt_band_shares(int n_bands);

  // Splits routers.active into `threads` bands of rows (see host_bands.cpp) and resets the lanes for cycle now.
  void plan(const Mesh& mesh, const std::vector<int>& active, int threads, Cycle now);
  // Evaluates lane li's routers: a band (injections a row ahead, early frees) or a boundary.
  void sweep(RouterPhase& routers, int li);
};

}  // namespace wafersim::fabric::engine
