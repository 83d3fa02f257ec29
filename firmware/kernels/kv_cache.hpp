// The decode KV cache as a CSL module (WaferLLM section 4.3): the sequence runs along Y (a cached token lives on
// one row of the region), its K and V slices along X (each PE of the row holds its columns' `dims` elements). A PE
// stores, per layer, K transposed (dims x slots: slot s is column s) and V as slots x dims, as the decode
// attention reads them (runtime/decode_layout.hpp). Rows hold contiguous runs of the sequence, oldest at the top
// (row 0); inside a row the entries form a ring: the i-th oldest is in slot (head + i) mod slots.
//
// Policies (the new token's K/V slices are on every PE, V_x; only the row that stores it uses them):
// - Shift (the paper's): the new entry enters the bottom row. With t entries before the append, q = t / H and
//   e = t mod H, the bottom e rows hold q + 1 entries and the rows above q; a row passes its oldest entry to the
//   row above exactly when it holds more than the top row (e > 0 and y >= H - e). All passing rows send and
//   receive in parallel, one entry over one link each; row H-1-e (whose fill is below its lower neighbour's) keeps
//   what it receives. So fills never differ by more than one, the bottom rows are the fuller ones, the order stays
//   continuous top to bottom, and an append costs the same on any number of rows. Capacity: H * slots tokens.
// - Concat (the baseline, as in the paper): every new entry is appended on the row owning the sequence tail, the
//   bottom row, in slot order; it overflows after `slots` tokens while the other rows hold nothing. (A variant
//   spilling onto the next row would hold as many tokens as the shift but still puts all of the attention's
//   work on one row; the paper's baseline has a fixed tail row.)
// Each layer has its own arrays and counters; one module serves all layers (appends of different layers run one
// after the other, each activating the caller's task when this PE's part is done). The shift uses two colours
// alternating by row parity (row y sends north on up[y % 2] and receives from the south on up[(y + 1) % 2]), one
// output queue and one input queue (both with their microthreads) from the program's ledger.
// Not modelled: removing entries (no eviction), a cache shared between requests, simd_32 packing of fp16 entries.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "firmware/csl/layout.hpp"
#include "firmware/csl/module.hpp"
#include "firmware/kernels/collective.hpp"

namespace wafersim::kernels {

enum class KvPolicy { Shift, Concat };
const char* to_string(KvPolicy p);

struct KvCacheConfig {
  int width = 1, height = 1;   // the region (columns x rows)
  std::uint32_t dims = 1;      // K (and V) elements of one token on one PE
  std::uint32_t slots = 1;     // tokens one PE holds per layer
  int layers = 1;
  DType dtype = DType::F16;    // of the cache and of the new token's slices
  KvPolicy policy = KvPolicy::Shift;
  std::vector<Color> colors{}; // shift: the colours to use (empty: any routable colour not reserved by host I/O)
};

// The tokens the region can cache per layer: shift H * slots, concat slots.
std::uint64_t kv_capacity_tokens(const KvCacheConfig& cfg);

struct KvCachePlan {
  KvCacheConfig cfg;
  std::array<Color, 2> up{kNoColor, kNoColor};  // shift: row y sends on up[y % 2]
  // Sets the shift's routes on every PE of `layout` (concat has none), claimed by module `instance`.
  void apply_routes(csl::Layout& layout, const std::string& instance) const;
};
using KvPlanPtr = std::shared_ptr<const KvCachePlan>;
// Validates cfg (ConfigError naming the field and the limit) and picks the shift's colours.
KvPlanPtr kv_cache_plan(const KvCacheConfig& cfg, const hw::ArchParams& arch);

class KvCacheModule : public csl::Module {
 public:
  // This PE's part (row y) of `plan`, named `instance` in program `p`: arrays instance.k and instance.v.
  KvCacheModule(csl::Program* p, std::string instance, KvPlanPtr plan, int y, csl::ModuleParams params = {});

  // Appends the next token of `layer`: `k` and `v` are this PE's `dims` elements of its K and V (arrays of the
  // cache's type); `opt.activate` runs when this PE's part is done. Throws CapacityError naming the PE row, the
  // module and the capacity when the cache is full.
  void append(int layer, const csl::ArrayBase& k, const csl::ArrayBase& v, csl::Async opt);
  // Host side (untimed, as a memcpy; the hand-over of a prefill's K/V): leaves `layer` as `tokens` appends to its
  // empty cache would (the same fills, counts and order; each row's ring starting at slot 0), this PE's entries
  // taken from value(position, j, is_v), j < dims (rounded to the cache's type). Throws CapacityError past the
  // capacity, std::logic_error while an append runs. Without `value` (timing-only runs) the contents are untouched.
  void preload(int layer, std::uint64_t tokens,
               const std::function<float(std::uint64_t position, std::uint32_t j, bool is_v)>& value = {});

  const KvCachePlan& plan() const { return *plan_; }
  // State of this PE's row for `layer` (the same on every PE of the row).
  std::uint64_t count(int layer) const { return state(layer).count; }   // tokens appended to the region
  std::uint32_t fill(int layer) const { return state(layer).fill; }     // tokens this row holds
  std::uint32_t slot(int layer, std::uint32_t i) const {                // slot of this row's i-th oldest
    return (state(layer).head + i) % plan_->cfg.slots;
  }
  std::uint64_t first_position(int layer) const;  // sequence position of this row's oldest entry
  // Element offsets in the arrays of K dim j and of V dim j of slot s of `layer`.
  std::uint32_t k_index(int layer, std::uint32_t s, std::uint32_t j) const;
  std::uint32_t v_index(int layer, std::uint32_t s, std::uint32_t j) const;
  const csl::ArrayBase& k() const { return *k_; }
  const csl::ArrayBase& v() const { return *v_; }

 private:
  struct Layer {
    std::uint64_t count = 0;
    std::uint32_t fill = 0, head = 0;
  };
  const Layer& state(int layer) const;
  csl::MemDsd k_slot(int layer, std::uint32_t s) const;  // dims elements, stride slots
  csl::MemDsd v_slot(int layer, std::uint32_t s) const;  // dims contiguous elements
  void store();
  void on_sent();
  void part_done();

  KvPlanPtr plan_;
  int y_;
  std::unique_ptr<csl::ArrayBase> k_, v_;
  std::vector<Layer> layers_;
  csl::Fabout tx_{};
  csl::Fabin rx_{};
  csl::LocalTask sent_, stored_;
  // The append in flight.
  int pending_ = 0;
  int layer_ = 0;
  std::uint32_t store_slot_ = 0;
  bool stores_new_ = false, store_after_send_ = false;
  const csl::ArrayBase *k_new_ = nullptr, *v_new_ = nullptr;
  csl::TaskRef done_{};
};

}  // namespace wafersim::kernels
