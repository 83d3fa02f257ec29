// Traffic drivers that sit behind a RAMP in place of a compute engine: a scripted stream agent for tests
// (send lists, receive logs, a configurable consumption rate) and the synthetic patterns of
// `wafersim bench fabric` (uniform random neighbour-segment traffic, row broadcast). Not part of the engine:
// library ws_bench, linked by the CLI and the tests.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fabric/fabric.hpp"

namespace wafersim::bench {

using fabric::Fabric;
using hw::Cycle;

class StreamAgent : public hw::PeAgent {
 public:
  struct Received {
    hw::Wavelet w;
    Cycle at;  // cycle the agent popped it from the input queue
    int iq;
  };

  // Queues a wavelet to push into output queue `oq` at or after `not_before`. Each output queue is fed in order,
  // one word per cycle; a full queue does not hold back the others (like separate microthreads).
  void send(const hw::Wavelet& w, int oq, Cycle not_before = 0);
  // Pops at most one wavelet per input queue every `every` cycles (1: every cycle; 0: never).
  void consume_every(int every) { consume_every_ = every; }
  // The agent counts as busy until it has received this many wavelets.
  void expect(std::uint64_t n) { expected_ = n; }
  void keep_log(bool keep) { keep_log_ = keep; }

  const std::vector<Received>& received() const { return received_; }
  std::uint64_t received_count() const { return received_count_; }
  const std::vector<Cycle>& send_cycles() const { return send_cycles_; }

  Cycle step(Cycle now, hw::PeQueues& q) override;
  bool busy() const override { return to_send_count_ > 0 || received_count_ < expected_; }
  bool isolated() const override { return true; }
  void describe_wait(std::ostream& os) const override;

 private:
  struct Pending {
    hw::Wavelet w;
    int oq;
    Cycle not_before;
  };
  std::vector<std::deque<Pending>> to_send_;  // per output queue
  std::size_t to_send_count_ = 0;
  std::vector<Received> received_;
  std::vector<Cycle> send_cycles_;
  std::uint64_t received_count_ = 0, expected_ = 0;
  int consume_every_ = 1;
  Cycle last_pop_ = 0;
  bool popped_once_ = false;
  bool keep_log_ = true;
};

struct TrafficConfig {
  std::string pattern = "uniform";  // uniform | row-broadcast | none
  double rate = 0.5;                // uniform: injection probability per PE per cycle
  int hops = 3;                     // uniform: segment length in hops (colours used: 4 * (hops + 1))
  std::uint64_t seed = 1;
  Cycle cycles = 10000;             // injection stops at this cycle
};

// Programs the routes of a pattern into `fabric` and attaches one driver per PE. Keep the returned object alive
// for the run.
class Traffic {
 public:
  Traffic(Fabric& fabric, const TrafficConfig& cfg);
  ~Traffic();
  std::uint64_t injected() const;
  std::uint64_t delivered() const;
  int colors_used() const { return colors_used_; }

 private:
  struct Shape;
  class Generator;
  class Source;
  class Sink;
  class SourceSink;
  std::unique_ptr<Shape> shape_;
  std::vector<Source> sources_;  // row broadcast: column 0
  std::vector<Sink> sinks_;      // row broadcast: the other PEs
  std::vector<SourceSink> both_; // uniform: every PE
  int colors_used_ = 0;
};

}  // namespace wafersim::bench
