#include "fabric/cycle_block.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include "common/check.hpp"
#include "fabric/engine.hpp"

namespace wafersim::fabric {

using engine::CycleBlocks;
using engine::Lane;

// Cycles now_ .. now_+k-1 in one sweep: the outcome, statistics included, is that of k calls of step_cycle(). Only
// the order of work differs: the rows' state stays in the host's caches from one cycle to the next.
void Fabric::step_block(int k) {
  engine::Engine& m = *impl_;
  CycleBlocks& b = m.blocks;
  const Cycle t0 = now_;
  m.routers.begin_step(arch_, t0, t0 + Cycle(k) - 1);
  // Invariant: a wavelet moves at most one row per cycle (a send becomes ready a cycle later at the earliest),
  // which the 2-row lag between the block's cycles relies on.
  WAFERSIM_CHECK(m.routers.hop_ready >= 1);
  const int threads = engine::HostBands::host_threads(arch_, m.pending_activations());
  b.begin(m, t0, k, threads);

  // The bands, then the boundaries between them.
  const int n_regions = int(b.regions.size()), n_bands = (n_regions + 1) / 2;
  if (n_bands > 1) {
    m.bands.ensure_pool(threads, n_bands);
    m.bands.pool->run([&](int i) {
      if (i < n_bands) b.region(m, b.regions[i]);
    });
    if (n_bands > 2) {
      m.bands.pool->run([&](int i) {
        if (i < n_bands - 1) b.region(m, b.regions[n_bands + i]);
      });
    } else {
      b.region(m, b.regions[n_bands]);
    }
  } else {
    b.region(m, b.regions[0]);
  }

  const auto [last_cycle, last_progress] = b.merge(m, stats_);
  // Routers activated for the cycle after the block, back into the list the next step starts from.
  m.routers.append_flagged(0, num_pes(), m.routers.next_active);
  m.bands.adapt_band_shares(n_bands);
  now_ = t0 + Cycle(k) - 1;
  stats_.block_cycles += Cycle(k);
  m.any_ready = last_cycle.any_ready;
  m.earliest_ready = last_cycle.earliest_ready;
  m.end_step(stats_, last_progress, now_);
}

namespace engine {

// Only as many cycles as step_cycle() would simulate one after the other anyway, which is certain for a cycle with
// an agent wake-up or a RAMP delivery due (next_event() stops there, stuck() sees progress); only on a large
// (simulation.block_min_pes), busy and dense mesh (t is the next cycle, many routers active) whose agents are all
// isolated, and nobody observes the links cycle by cycle. (On a mesh whose state fits the host's caches, the
// boundary regions cost more than the sweep saves.)
int CycleBlocks::length(const Engine& e, Cycle t, Cycle last) {
  const hw::ArchParams& arch = e.arch;
  const Cycle k = std::min<Cycle>(Cycle(arch.simulation.cycle_block), last - t + 1);
  if (k < 2 || t != e.agents.horizon || !e.agents.all_isolated() || e.routers.observer ||
      std::uint64_t(e.mesh.num_pes()) < arch.simulation.block_min_pes)
    return 1;
  if (e.pending_activations() * 16 <= e.routers.in_active.size()) return 1;
  std::size_t d = e.ramp.head;
  Cycle n = 1;
  for (; n < k; ++n) {
    while (d < e.ramp.list.size() && e.ramp.list[d].at < t + n) ++d;
    const bool delivery = d < e.ramp.list.size() && e.ramp.list[d].at == t + n;
    const bool wake = !e.agents.wheel[(t + n) % AgentSchedule::kWheel].empty();  // (the heap: >= t + kWheel - 1)
    if (!delivery && !wake) break;
  }
  return int(n);
}

void CycleBlocks::begin(Engine& e, Cycle start, int length, int threads) {
  const int H = e.mesh.height, width = e.mesh.width;
  t0 = start;
  k = length;
  // Activations are read from the flags row by row: the lists are not needed.
  e.routers.next_active.clear();
  for (Lane& lane : e.bands.lanes) lane.activated.clear();

  // Per-row and per-cycle storage.
  if (row_active.size() != std::size_t(H)) {
    row_active.assign(H, {});
    row_frees.assign(H, {});
    row_control_frees.assign(H, {});
    row_words = (width + 63) / 64;
  }
  if (row_deliveries.size() < std::size_t(k)) row_deliveries.resize(k, std::vector<std::vector<Delivery>>(H));
  if (due_bits.size() < std::size_t(k)) due_bits.resize(k, std::vector<std::uint64_t>(std::size_t(H) * row_words, 0));
  plan(e, threads);
  const int n_regions = int(regions.size());
  if (lanes.size() < std::size_t(k)) lanes.resize(k);
  for (int j = 0; j < k; ++j) {
    if (lanes[j].size() < std::size_t(n_regions)) lanes[j].resize(n_regions);
    for (int li = 0; li < n_regions; ++li) lanes[j][li].reset(t0 + Cycle(j));
  }

  // Agents due in the block's cycles (from the wheel), and the RAMP deliveries already listed for them.
  AgentSchedule& agents = e.agents;
  agents.load_far_wakes(t0);
  for (int j = 0; j < k; ++j) {
    std::vector<int>& slot = agents.slot(t0 + Cycle(j));
    for (int pe : slot)
      if (agents.current(pe, t0 + Cycle(j))) mark_due(width, j, pe);
    agents.wheel_entries -= slot.size();
    slot.clear();
  }
  due.assign(std::min<std::size_t>(k, e.routers.ramp), {0, 0});
  for (std::size_t j = 0; j < due.size(); ++j) due[j] = e.ramp.take_due(t0 + Cycle(j));
  agents.horizon = t0 + Cycle(k);
}

// Bands of whole rows (at least 4k+4 high, so the boundary regions stay apart), as many as there are threads.
// Band b sweeps its rows but leaves, in cycle j, 2j+1 rows on each side of a split s to the boundary region of s
// (evaluated rows s-1-2j .. s+2j), which runs once both bands are done.
void CycleBlocks::plan(Engine& e, int threads) {
  const int H = e.mesh.height, min_rows = 4 * k + 4;
  threads = std::max(1, std::min(threads, H / min_rows));
  HostBands& hb = e.bands;
  hb.ensure_shares(threads);
  std::vector<int> splits;
  double cumulative = 0;
  for (int i = 1; i < threads; ++i) {
    cumulative += hb.band_share[i - 1];
    const int s = std::max(int(double(H) * cumulative), (splits.empty() ? 0 : splits.back()) + min_rows);
    if (s > H - min_rows) break;
    splits.push_back(s);
  }
  const int nb = int(splits.size()) + 1;
  regions.assign(2 * nb - 1, Region{});
  const auto clip = [H](int lo, int hi) { return RowRange{std::max(lo, 0), std::min(hi, H - 1)}; };
  for (int b = 0; b < nb; ++b) {
    Region& reg = regions[b];
    reg.lane = 2 * b;
    for (int j = 0; j < k; ++j) {
      const bool below = b > 0, above = b < nb - 1;
      const int s0 = below ? splits[b - 1] : 0, s1 = above ? splits[b] : H;
      reg.inject.push_back(clip(below ? s0 + 2 * j : 0, above ? s1 - 1 - 2 * j : H - 1));
      reg.eval.push_back(clip(below ? s0 + 1 + 2 * j : 0, above ? s1 - 2 - 2 * j : H - 1));
      reg.finish.push_back(clip(below ? s0 + 2 + 2 * j : 0, above ? s1 - 3 - 2 * j : H - 1));
    }
  }
  for (int i = 0; i + 1 < nb; ++i) {
    Region& reg = regions[nb + i];
    reg.lane = 2 * i + 1;
    const int s = splits[i];
    for (int j = 0; j < k; ++j) {
      reg.inject.push_back(clip(s - 2 * j, s + 2 * j - 1));
      reg.eval.push_back(clip(s - 1 - 2 * j, s + 2 * j));
      reg.finish.push_back(clip(s - 2 - 2 * j, s + 1 + 2 * j));
    }
  }
}

// Streams a region upward: at step R, cycle j works on row R-2j (inject the row above it, evaluate it, finish the
// row below it), cycles in order.
void CycleBlocks::region(Engine& e, const Region& reg) {
  int r_lo = std::numeric_limits<int>::max(), r_hi = std::numeric_limits<int>::min();
  for (int j = 0; j < k; ++j) {
    for (const auto& [rr, shift] : {std::pair{reg.inject[j], -1}, std::pair{reg.eval[j], 0}, std::pair{reg.finish[j], 1}}) {
      if (rr.lo > rr.hi) continue;
      r_lo = std::min(r_lo, rr.lo + shift + 2 * j);
      r_hi = std::max(r_hi, rr.hi + shift + 2 * j);
    }
  }
  for (int R = r_lo; R <= r_hi; ++R) {
    for (int j = 0; j < k; ++j) {
      Lane& lane = lanes[j][reg.lane];
      const int row = R - 2 * j;
      if (reg.inject[j].has(row + 1)) inject_row(e, lane, j, row + 1);
      if (reg.eval[j].has(row)) evaluate_row(e, lane, j, row);
      if (reg.finish[j].has(row - 1)) finish_row(e, lane, j, row - 1);
    }
  }
}

// The row's routers activated for this cycle (in PE order; their flags are cleared, so activations from here on
// are for the next cycle), then their output-queue injections.
void CycleBlocks::inject_row(Engine& e, Lane& lane, int j, int row) {
  RouterPhase& rp = e.routers;
  const int width = e.mesh.width;
  std::vector<int>& list = row_active[row];
  list.clear();
  rp.append_flagged(row * width, (row + 1) * width, list);
  std::memset(rp.in_active.data() + std::size_t(row) * width, 0, std::size_t(width));
  const int* act = list.data();
  const hw::Router* routers = e.mesh.routers.data();
  for (std::size_t a = 0, n = list.size(); a < n; ++a) {
    // A row of injections back to back: fetched further ahead than in the sweep (router and queue counters, then
    // the head word, then its colour's state).
    if (a + 16 < n) {
      __builtin_prefetch(&routers[act[a + 16]]);
      __builtin_prefetch(e.mesh.queues[act[a + 16]].get());
    }
    rp.prefetch_injection(act + 2, a, n < 2 ? 0 : n - 2);  // its distances, two further
    rp.inject(lane, act[a]);
  }
  for (int pe : lane.wakes)
    if (e.agents.wake_now(pe, lane.now)) mark_due(width, j, pe);
  lane.wakes.clear();
}

void CycleBlocks::evaluate_row(Engine& e, Lane& lane, int j, int row) {
  RouterPhase& rp = e.routers;
  const hw::Router* routers = e.mesh.routers.data();
  const std::vector<int>& list = row_active[row];
  const int* act = list.data();
  for (std::size_t a = 0, n = list.size(); a < n; ++a) {
    if (a + 16 < n) __builtin_prefetch(&routers[act[a + 16]]);
    if (a + 8 < n) RouterPhase::prefetch_colors(routers[act[a + 8]]);
    // In the block's first cycle the neighbours' states are cold too: those the wavelets will be sent into.
    if (j == 0 && a + 4 < n) {
      const hw::Router& ra = routers[act[a + 4]];
      for (std::uint32_t bc = ra.buffered_colors(); bc; bc &= bc - 1) {
        const Color c = static_cast<Color>(__builtin_ctz(bc));
        for (hw::DirMask tx = ra.state_at(ra.slot_of(c)).tx() & 0xf; tx; tx &= tx - 1) {
          const hw::Router& nr = routers[act[a + 4] + e.routers.neighbour_offset[__builtin_ctz(tx)]];
          if (const int s = nr.slot_of(c); s >= 0) __builtin_prefetch(&nr.state_at(s));
        }
      }
    }
    rp.evaluate(lane, act[a]);
  }
  lane.evaluated += list.size();
  // The row's frees and RAMP sends of this cycle, kept per row (the lists taken over are empty).
  std::swap(lane.frees, row_frees[row]);
  std::swap(lane.control_frees, row_control_frees[row]);
  std::swap(lane.deliveries, row_deliveries[j][row]);
}

// Rows row-1..row+1 are evaluated: the row's slots freed this cycle are released and its switches move, then the
// wavelets arriving over the RAMP enter the input queues and the due agents step (as in AgentSchedule::pass).
void CycleBlocks::finish_row(Engine& e, Lane& lane, int j, int row) {
  RouterPhase& rp = e.routers;
  const Cycle now = lane.now;
  const int width = e.mesh.width;
  const AgentSchedule::LaneScope scope(&lane);  // teardown handlers and agents: queue events of this lane's cycle
  std::vector<Free>& frees = row_frees[row];
  std::vector<Free>& control = row_control_frees[row];
  if (!frees.empty() || !control.empty()) lane.any_free = true;
  for (std::size_t i = 0, n = frees.size(); i < n; ++i) {
    if (i + 8 < n) {  // the freed colours' states, a few ahead
      const hw::Router& ra = e.mesh.routers[frees[i + 8].pe];
      __builtin_prefetch(&ra.state_at(ra.slot_of(frees[i + 8].c)));
    }
    rp.release(frees[i]);
  }
  frees.clear();
  for (const Free& fr : control) rp.release_control(fr, now);
  control.clear();

  const int lo = row * width, hi = lo + width;
  const Delivery *d, *d_end;
  if (j >= int(rp.ramp)) {
    const std::vector<Delivery>& v = row_deliveries[j - rp.ramp][row];
    d = v.data();
    d_end = d + v.size();
  } else {
    d = e.ramp.list.data() + due[j].first;
    d_end = e.ramp.list.data() + due[j].second;
    d = std::lower_bound(d, d_end, lo, [](const Delivery& x, int pe) { return x.pe < pe; });
    d_end = std::lower_bound(d, d_end, hi, [](const Delivery& x, int pe) { return x.pe < pe; });
  }
  lane.delivered += std::uint64_t(d_end - d);
  const Cycle block_end = t0 + Cycle(k);
  const auto schedule = [&](int p, Cycle at) {
    if (at < block_end) mark_due(width, int(at - t0), p);
    else lane.schedules.push_back({at, p});
  };
  std::uint64_t* words = due_bits[j].data() + std::size_t(row) * row_words;
  for (int w = 0; w < row_words; ++w) {
    const int base = lo + 64 * w;
    const std::uint64_t bits = words[w];
    words[w] = 0;
    lane.steps += e.agents.step_word(e.mesh, base, bits, d, d_end, now, schedule);
  }
}

std::pair<CycleOutcome, Cycle> CycleBlocks::merge(Engine& e, Stats& stats) {
  Cycle last_progress = kNever;
  CycleOutcome out;
  const int H = e.mesh.height;
  for (int j = 0; j < k; ++j) {
    out = CycleOutcome{};
    for (std::size_t li = 0; li < regions.size(); ++li) {
      Lane& lane = lanes[j][li];
      merge_router_lane(lane, stats, out);
      merge_agent_lane(lane, stats, out, [&](int pe, Cycle at) { e.agents.schedule(pe, at); });
      lane.activated.clear();
    }
    if (out.progress) last_progress = t0 + Cycle(j);
    // RAMP sends that arrive after the block join the list (cycle, then PE order); the others were delivered.
    const bool after = Cycle(j) + e.routers.ramp >= Cycle(k);
    for (int row = 0; row < H; ++row) {
      std::vector<Delivery>& v = row_deliveries[j][row];
      if (after) e.ramp.append(v);
      v.clear();
    }
  }
  e.ramp.compact();
  return {out, last_progress};
}

}  // namespace engine
}  // namespace wafersim::fabric
