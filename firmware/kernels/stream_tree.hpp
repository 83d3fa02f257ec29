// The per-PE program that executes a stream plan (collective.hpp): on launch it combines its vector x with every
// incoming partial stream in streamed DSD ops (one element per cycle per microthread, fabin -> fabout), sends the
// result on, and overwrites x with the final result if one arrives. Used by broadcast, chain reduce, pipeline and
// K-tree allreduce. Not modelled: reduction in place without loopbacks (a PE joining k streams spends k-1 local
// RAMP->RAMP loopback colours, which also share the RAMP's one wavelet per cycle).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "firmware/kernels/collective.hpp"

namespace wafersim::kernels {

class StreamTreeProgram : public CollectiveProgram {
 public:
  // `node`: this PE's part of the plan; `function`: the exported launch function.
  StreamTreeProgram(const StreamNode& node, const CollectiveConfig& cfg, std::string kernel, std::string function);
  std::string name() const override { return kernel_; }
  void init() override;
  bool finished() const override;
  csl::ArrayBase& x() { return *x_; }

  // Queues chosen for this PE (tests, docs): OQ of each streamed op, IQ of each input colour, IQ of the result.
  struct Queues {
    std::vector<int> op_oq;
    std::vector<std::pair<Color, int>> iq_of;
    int receive_iq = -1;
  };
  const Queues& queues() const { return q_; }

 private:
  void run();
  void issue_combine(csl::Operand dest, csl::Operand a, csl::Operand b, bool b_is_x, csl::Async opt);
  int iq(Color c) const;

  StreamNode node_;
  CollectiveConfig cfg_;
  std::string kernel_, function_;
  std::unique_ptr<csl::ArrayBase> x_;
  csl::LocalTask start_{this, [this] { run(); }, "start"};
  std::vector<std::unique_ptr<csl::LocalTask>> done_tasks_;
  std::vector<char> done_;
  Queues q_;
  std::vector<hw::FabinDsd> fabin_;  // per colour of iq_of (inputs, loopbacks)
  hw::FabinDsd receive_fabin_{};
  std::vector<hw::FaboutDsd> fabout_;  // per op
  bool started_ = false;
};

// Builds the layout of a stream plan over the rectangle: every PE runs a StreamTreeProgram with its line's node.
CollectiveLayout build_stream_layout(const CollectiveConfig& cfg, const LinePlan& plan, const std::string& kernel,
                                     const std::string& function);

}  // namespace wafersim::kernels
