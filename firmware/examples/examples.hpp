// The classic Cerebras SDK tutorials written against the CSL-like API: single-PE GEMV, two-PE send/receive GEMV,
// a row pipeline with checkerboard colours, and a switch-driven broadcast. Each builder returns a Layout ready to
// load onto a fabric::Fabric; the host then writes the exported symbols, calls the exported function (if any),
// runs the fabric and reads the results. Not modelled: the memcpy framework (host access is untimed).
#pragma once
#include <cstdint>
#include <memory>

#include "firmware/csl/csl.hpp"

namespace wafersim::examples {

// ---- single-PE GEMV (SDK gemv-01): y = A x + b, fp32, A row-major M x N, one fmacs per column.
// Exported: symbols A, x, b, y; function "compute". Cycles of the compute task on WSE-2 defaults:
// task_switch + (ceil(M/2) + 1) [fmovs y = b] + N * (M + 1) [fmacs per column].
struct Gemv : csl::Program {
  Gemv(std::uint32_t m, std::uint32_t n) : M(m), N(n) {}
  std::string name() const override { return "gemv"; }
  void init() override;

  const std::uint32_t M, N;
  csl::Array<float> A{this, "A", M * N}, x{this, "x", N}, b{this, "b", M}, y{this, "y", M};
  csl::LocalTask compute{this, [this] { run(); }, "compute"};

 private:
  void run();
};
std::unique_ptr<csl::Layout> gemv_layout(std::uint32_t M, std::uint32_t N);

// ---- two-PE GEMV (SDK gemv-03 style): PE(0,0) holds columns [0, N/2), PE(1,0) columns [N/2, N) and b. Each
// computes its partial y; the left PE streams its partial east on `kColor`; the right PE adds the stream into its
// own partial (fadds with a fabin operand) and activates `done`. Exported: A, x (per PE), b and y (right PE).
struct SendPartial : csl::Program {
  static constexpr csl::Color kColor = 0;
  SendPartial(std::uint32_t m, std::uint32_t n_local) : M(m), N(n_local) {}
  std::string name() const override { return "send_partial"; }
  void init() override;
  const std::uint32_t M, N;
  csl::Array<float> A{this, "A", M * N}, x{this, "x", N}, b{this, "b", M}, y{this, "y", M};
  csl::LocalTask compute{this, [this] { run(); }, "compute"};
  csl::LocalTask done{this, [] {}, "done"};

 private:
  void run();
};
struct ReceivePartial : csl::Program {
  ReceivePartial(std::uint32_t m, std::uint32_t n_local) : M(m), N(n_local) {}
  std::string name() const override { return "receive_partial"; }
  void init() override;
  const std::uint32_t M, N;
  csl::Array<float> A{this, "A", M * N}, x{this, "x", N}, b{this, "b", M}, y{this, "y", M};
  csl::LocalTask compute{this, [this] { run(); }, "compute"};
  csl::LocalTask done{this, [] {}, "done"};
  bool finished = false;

 private:
  void run();
};
std::unique_ptr<csl::Layout> send_receive_layout(std::uint32_t M, std::uint32_t N);

// ---- row pipeline with checkerboard colours (SDK pipeline / gemv-08 style): P PEs in a row, each holding a
// vector v of n floats. PE 0 streams v east; PE i adds its v to the incoming stream and streams the sum on
// (one fadds with a fabin source and a fabout destination); the last PE adds into y. The link from PE i to PE i+1
// uses colour i % 2: a single colour could not both enter PE i from the west and leave it to the east with a fixed
// route. Starts by itself (start()); exported: v (all PEs), y (last PE).
struct PipelineStage : csl::Program {
  PipelineStage(int index, int count, std::uint32_t n) : i(index), P(count), len(n) {}
  std::string name() const override { return "pipeline_stage"; }
  void start() override;
  const int i, P;
  const std::uint32_t len;
  csl::Array<float> v{this, "v", len}, y{this, "y", len};
  csl::LocalTask done{this, [this] { finished = true; }, "done"};
  bool finished = false;
};
std::unique_ptr<csl::Layout> pipeline_layout(int P, std::uint32_t n);

// ---- switch-driven broadcast (SDK topic-06 style): on a 3x3 rectangle the centre PE feeds its four neighbours in
// turn with one colour. Its router's colour `kColor` has rx = RAMP and tx = E at position 0, W at 1, N at 2, S at
// 3; the centre sends chunk k (n floats) with .advance_switch = true, so the ADV control wavelet after each chunk
// moves its switch to the next neighbour. Neighbours receive with fabin into `buf`. Exported: data (centre, 4n),
// buf (neighbours). Order of chunks: east, west, north, south.
struct BroadcastCentre : csl::Program {
  static constexpr csl::Color kColor = 3;
  explicit BroadcastCentre(std::uint32_t n) : len(n) {}
  std::string name() const override { return "broadcast_centre"; }
  void start() override;
  const std::uint32_t len;
  csl::Array<float> data{this, "data", 4 * len}, buf{this, "buf", len};
  csl::LocalTask done{this, [] {}, "done"};
};
struct BroadcastNeighbour : csl::Program {
  explicit BroadcastNeighbour(std::uint32_t n) : len(n) {}
  std::string name() const override { return "broadcast_neighbour"; }
  void start() override;
  const std::uint32_t len;
  csl::Array<float> data{this, "data", 4 * len}, buf{this, "buf", len};
  csl::LocalTask done{this, [this] { finished = true; }, "done"};
  bool finished = false;
};
std::unique_ptr<csl::Layout> broadcast_layout(std::uint32_t n);

}  // namespace wafersim::examples
