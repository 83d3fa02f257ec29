// Ring allreduce (the GPU default, WaferLLM's second baseline) on the INTERLEAVE ring of each line (even positions
// ascending, then odd descending: every ring edge is at most 2 hops, no wrap-around link). The vector is cut into P
// chunks; P-1 reduce-scatter steps then P-1 allgather steps, each step sending one chunk to the next PE and receiving
// one from the previous (store and forward: a CE stage per step). Steps are joined by a blocked task that the send
// activates and the receive unblocks. Critical path ~ 2(P-1) * (task + stage latency + len/P).
// Not modelled: bidirectional rings, chunk pipelining inside a step.
#pragma once
#include <vector>

#include "firmware/kernels/collective_module.hpp"

namespace wafersim::kernels {

// The INTERLEAVE ring order of P positions (WaferLLM Algorithm 1), e.g. P=6: 0,2,4,5,3,1.
std::vector<int> interleave_ring(int P);
// Routes `order` as a ring on `plan`: edge k (order[k] -> order[k+1], wrapping) is a pass-through stream on the
// first colour of `taken` (extended from `pool`) not configured on its span; returns the edge colours.
std::vector<Color> route_ring(LinePlan& plan, const std::vector<int>& order, ColorPool& pool);

// Colours per PE: at most 4 (edges coloured greedily so that no PE sees a colour twice). Launch: "allreduce".
PlanPtr ring_plan(const CollectiveConfig& cfg, const hw::ArchParams& arch);
CollectiveLayout ring_allreduce(const CollectiveConfig& cfg, const hw::ArchParams& arch);
constexpr int ring_allreduce_colors_per_pe_max() { return 4; }

// One PE of the ring: its send queue (and microthread) and receive queue (and microthread) come from the ledger.
class RingModule : public CollectiveModule {
 public:
  RingModule(csl::Program* p, std::string instance, PlanPtr plan, int pos, csl::ModuleParams params);
  std::size_t host_bytes() const override;

 private:
  void run(csl::ArrayBase& buf, std::uint32_t n, csl::TaskRef done) override;
  void issue();
  void joined();
  bool convert() const { return acc_type() != plan_->cfg.dtype; }
  csl::ArrayBase& work() { return convert() ? *acc_ : *buf_; }
  std::uint32_t first(int chunk) const { return std::uint32_t(std::uint64_t(n_) * chunk / P_); }
  int mod(int v) const { return ((v % P_) + P_) % P_; }

  int P_, k_;  // ring size, this PE's place in the ring
  std::unique_ptr<csl::ArrayBase> acc_;  // fp32 partials of fp16 data
  csl::Fabin rx_{};
  csl::Fabout tx_{};
  csl::LocalTask join_;
  csl::ArrayBase* buf_ = nullptr;
  std::uint32_t n_ = 0;
  csl::TaskRef done_{};
  int step_ = 0;
};

}  // namespace wafersim::kernels
