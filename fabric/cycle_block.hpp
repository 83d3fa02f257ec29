// Cycle blocks: cycles t0 .. t0+k-1 simulated in one upward sweep over the rows, cycle j two rows behind cycle j-1,
// so that a row's state is fetched from memory once per block instead of once per cycle (large, busy meshes).
// A row's stages in cycle j: inject (collect its active routers, take output-queue words; before any neighbour
// sends into it), evaluate, finish (release the slots freed in cycle j, move switches, RAMP deliveries, agents).
// Finishing row r needs rows r-1..r+1 evaluated; injecting or evaluating row r in cycle j+1 needs rows r-1..r+1
// finished in cycle j: with the 2-row lag every stage finds its inputs ready, and the result is that of k single
// cycles (only isolated agents, which touch their own PE, may run out of cycle order). Internal to the engine.
#pragma once
#include <utility>
#include <vector>

#include "fabric/lane.hpp"

namespace wafersim::fabric::engine {

struct Engine;

struct CycleBlocks {
  struct RowRange {
    int lo = 0, hi = -1;  // inclusive
    bool has(int r) const { return r >= lo && r <= hi; }
  };
  // The part of a block one host thread sweeps: per cycle j, the rows it injects, evaluates and finishes.
  struct Region {
    int lane = 0;
    std::vector<RowRange> inject, eval, finish;
  };
  int k = 0;
  Cycle t0 = 0;
  std::vector<std::vector<Lane>> lanes;                         // [j][lane], lanes in PE order
  std::vector<Region> regions;                                  // bands, then the boundaries between them
  std::vector<std::vector<int>> row_active;                     // per row: routers evaluated in its current cycle
  std::vector<std::vector<Free>> row_frees, row_control_frees;  // per row: slots freed in its current cycle
  std::vector<std::vector<std::vector<Delivery>>> row_deliveries;  // [j][row]: sent to the RAMP in cycle j
  std::vector<std::pair<std::size_t, std::size_t>> due;         // [j < ramp]: ramp.list[] arriving in cycle j
  std::vector<std::vector<std::uint64_t>> due_bits;             // [j]: agents due, row_words words per row
  int row_words = 0;
  void mark_due(int width, int j, int pe) {
    const int y = pe / width, x = pe - y * width;
    due_bits[j][std::size_t(y) * row_words + (x >> 6)] |= std::uint64_t(1) << (x & 63);
  }

  // How many cycles from t (at most up to `last`) the next step may simulate as one block (1: a single cycle).
  static int length(const Engine& e, Cycle t, Cycle last);
  // Sets up the block's storage, regions and lanes, the agents due in its cycles, the deliveries arriving in them.
  void begin(Engine& e, Cycle t0, int k, int threads);
  void region(Engine& e, const Region& reg);
  // Merges the block's lanes, cycle by cycle and in PE order; returns the last cycle's outcome and the last
  // cycle with progress (kNever: none).
  std::pair<CycleOutcome, Cycle> merge(Engine& e, Stats& stats);

 private:
  void plan(Engine& e, int threads);
  void inject_row(Engine& e, Lane& lane, int j, int row);
  void evaluate_row(Engine& e, Lane& lane, int j, int row);
  void finish_row(Engine& e, Lane& lane, int j, int row);
};

}  // namespace wafersim::fabric::engine
