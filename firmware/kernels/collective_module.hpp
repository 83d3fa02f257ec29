// The collectives as CSL modules. A CollectivePlan is what a collective's builder decides for a rectangle: the
// per-line stream plan (or ring order), its routes (applied to the layout for its axis, each route claimed by the
// module instance) and its configuration. A CollectiveModule is one PE's part of a plan inside any program:
//
//   class Decode : public csl::Program {            // one program, an X and a Y allreduce, run in sequence
//     csl::Array<float> x{this, "x", n};
//     std::unique_ptr<kernels::CollectiveModule> rows = kernels::instantiate(this, "rows", row_plan, px, py);
//     std::unique_ptr<kernels::CollectiveModule> cols = kernels::instantiate(this, "cols", col_plan, px, py);
//     csl::LocalTask first{this, [this] { rows->allreduce(x, n, {.activate = second}); }};
//     csl::LocalTask second{this, [this] { cols->allreduce(x, n, {.activate = done}); }};
//     ...
//   };
//
// An entry may run again once its previous run has activated its task (the same colours and queues are reused; a
// neighbour that starts the next run early only queues wavelets). Two plans in one program must use disjoint
// colours at every PE (Layout::load names the PE and both modules otherwise): plan the second with the colours the
// first left (remaining_colors). CollectiveProgram is the program of the top-level builders (one or more phases on
// the vector "x", exported function runs them in order).
// fp16 partials may travel packed (CollectiveConfig::simd32). Not modelled: collectives on a sub-rectangle of the
// layout; plans whose routes change between phases (the primitive exists: csl::route_steps and
// csl::Module::advance_route; no collective plan uses it yet).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "firmware/csl/module.hpp"
#include "firmware/kernels/collective.hpp"

namespace wafersim::kernels {

enum class Collective { Broadcast, ChainReduce, Pipeline, KTree, Ring };

struct CollectivePlan {
  Collective kind = Collective::Pipeline;
  const char* name = "";  // "ktree_allreduce", ... (module kind in messages)
  CollectiveConfig cfg;
  LinePlan line{1};               // routes of every line; stream nodes of the stream collectives
  std::vector<int> ring{};        // Ring: positions in ring order
  std::vector<Color> ring_edges{};  // Ring: edge k carries ring[k] -> ring[(k + 1) % P]

  int position(int x, int y) const { return cfg.axis == Axis::X ? x : y; }
  // Sets the routes of every line on `layout`, claimed by module `instance`.
  void apply_routes(csl::Layout& layout, const std::string& instance) const;
};
using PlanPtr = std::shared_ptr<const CollectivePlan>;

// The colours of `pool` (cfg.colors, or every routable colour not reserved by host I/O) that `plan` does not use: the
// colours for a second plan in the same program.
std::vector<Color> remaining_colors(const CollectivePlan& plan, const std::vector<Color>& pool, const hw::ArchParams& arch);

class CollectiveModule : public csl::Module {
 public:
  // CSL-style entries on `n` elements of `buf` (an array of the data type, n <= the plan's length); `opt.activate`
  // runs when this PE's part is done. Each entry belongs to its collectives (allreduce: pipeline, ring, K-tree;
  // reduce: chain reduce; broadcast: broadcast) and throws std::logic_error on another module.
  // The reduction is the plan's (cfg.op) unless `op` chooses one for this call, so one module serves both the sums
  // and the maxima of a program (its colours and queues once). std::invalid_argument when the call's op changes
  // the wire type (fp16 data summed in fp32 partials: a max travels in fp16).
  void allreduce(csl::ArrayBase& buf, std::uint32_t n, csl::Async opt, std::optional<ReduceOp> op = {});
  void reduce(csl::ArrayBase& buf, std::uint32_t n, csl::Async opt);
  void broadcast(csl::ArrayBase& buf, std::uint32_t n, csl::Async opt);
  const CollectivePlan& plan() const { return *plan_; }
  // The entry matching the plan's collective.
  void start(csl::ArrayBase& buf, std::uint32_t n, csl::Async opt);

 protected:
  CollectiveModule(csl::Program* p, std::string instance, PlanPtr plan, csl::ModuleParams params);
  virtual void run(csl::ArrayBase& buf, std::uint32_t n, csl::TaskRef done) = 0;
  DType acc_type() const { return plan_->cfg.acc_type(); }
  // The reduction of the current call (the plan's, or the one allreduce chose).
  ReduceOp op() const { return op_; }
  // The packing of the module's fabric DSDs: simd_32 when the plan packs fp16 (CollectiveConfig::simd32).
  hw::SimdMode wire_simd() const { return plan_->cfg.simd32 ? hw::SimdMode::Simd32 : hw::SimdMode::Off; }
  PlanPtr plan_;

 private:
  void enter(const char* entry, bool allowed, csl::ArrayBase& buf, std::uint32_t n, const csl::Async& opt,
             ReduceOp op);
  ReduceOp op_;
};

// The module of `plan` at PE (x, y) of the rectangle, named `instance` in program `p`.
std::unique_ptr<CollectiveModule> instantiate(csl::Program* p, std::string instance, PlanPtr plan, int x, int y,
                                              csl::ModuleParams params = {});

// The program of the top-level builders: the vector "x" (the data type of the first phase, its length), one module
// per phase (instance "rows" for X, "cols" for Y), run in order on x by the exported function.
class CollectiveProgram : public csl::Program {
 public:
  CollectiveProgram(const std::vector<PlanPtr>& phases, std::string name, const std::string& function, int x, int y);
  std::string name() const override { return name_; }
  void init() override;
  bool finished() const { return finished_; }
  csl::ArrayBase& x() { return *x_; }
  // This PE's own bytes: the program, its vector's object and its modules (their shared plans and DSDs excluded).
  std::size_t host_bytes() const override;
  const std::vector<std::unique_ptr<CollectiveModule>>& modules() const { return modules_; }

 private:
  void step();
  std::string name_, function_;
  std::unique_ptr<csl::ArrayBase> x_;
  csl::LocalTask step_{this, [this] { step(); }, "step"};
  std::vector<std::unique_ptr<CollectiveModule>> modules_;
  std::size_t next_ = 0;
  bool finished_ = false;
};

// A layout whose every PE runs CollectiveProgram over `phases` (same rectangle, same data type and length).
CollectiveLayout collective_layout(std::vector<PlanPtr> phases, const std::string& name, const std::string& function);

// Allreduce along X, then along Y, in one program: every PE ends with the sum (max) over the whole rectangle.
// `plan(cfg)` builds one phase (e.g. ktree_plan); the Y phase gets the colours the X phase left. Launch: "allreduce".
CollectiveLayout allreduce_xy(const CollectiveConfig& cfg, const hw::ArchParams& arch,
                              const std::function<PlanPtr(const CollectiveConfig&)>& plan);

}  // namespace wafersim::kernels
