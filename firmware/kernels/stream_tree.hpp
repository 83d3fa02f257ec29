// One PE's part of a stream plan (collective.hpp) as a module: on entry it combines the buffer with every incoming
// partial stream in streamed DSD ops (one element per cycle per microthread, fabin -> fabout), sends the result on,
// and overwrites the buffer with the final result if one arrives. Used by broadcast, chain reduce, pipeline and
// K-tree allreduce. Queues: one output queue (and its microthread) per streamed op, an input queue per input and
// loopback stream, and an input queue with its microthread for the result stream, from the program's ledger. A
// staged join (StreamNode::staged) takes one output queue, its microthread and the input queue of the same number
// (its first input) as a set from the ledger, and an input queue for the second input.
// Every PE at one position of the line (same node) whose program left it the same queues holds the same queues and
// fabric DSDs: they are shared (wafersim::share), a PE keeps a pointer.
// Not modelled: reduction in place without loopbacks (a PE joining k streams spends k-1 local RAMP->RAMP loopback
// colours, which also share the RAMP's one wavelet per cycle).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "firmware/kernels/collective_module.hpp"

namespace wafersim::kernels {

class StreamModule : public CollectiveModule {
 public:
  StreamModule(csl::Program* p, std::string instance, PlanPtr plan, int pos, csl::ModuleParams params);

  // Queues this PE's part uses (tests, docs): OQ of each streamed op, IQ of each input colour, IQ of the result.
  struct Queues {
    std::vector<int> op_oq;
    std::vector<std::pair<Color, int>> iq_of;
    int receive_iq = -1;
    bool operator==(const Queues&) const = default;
  };
  // The queues and fabric DSDs of this PE's part, shared by the PEs of its role (wafersim::share).
  struct Wiring {
    Queues q;
    std::vector<csl::Fabin> in;    // inputs, then loopbacks (the colours of q.iq_of)
    csl::Fabin result{};
    std::vector<csl::Fabout> out;  // per op: loopbacks, then the node's out colour
    bool operator==(const Wiring&) const = default;
    std::size_t hash() const;
  };
  const Wiring& wiring() const { return *wiring_; }
  const Queues& queues() const { return wiring_->q; }
  std::size_t host_bytes() const override;

 private:
  void run(csl::ArrayBase& buf, std::uint32_t n, csl::TaskRef done) override;
  // dest = a (+|max) b in the accumulation type.
  void combine(csl::Operand dest, csl::Operand a, csl::Operand b, csl::Async opt);
  // Claims output queue q, microthread q and input queue q for a staged join: the first q free for all three.
  int staged_queue();

  const StreamNode& node_;
  std::shared_ptr<const Wiring> wiring_;
};

}  // namespace wafersim::kernels
