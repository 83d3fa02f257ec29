// Common vocabulary of the collectives along X or Y of a rectangle (broadcast, chain reduce, pipeline, ring and
// K-tree allreduce): element type, reduction, the colour budget, and the per-line "stream plan" (which PE streams
// what to whom on which colour, with which route at every PE) that the collectives build and stream_tree.hpp runs.
// Fidelity: every wavelet crosses the cycle-level fabric, one vector element per wavelet (fp16 in the low half), or
// two fp16 per wavelet with `simd32` (simd_32 fabric DSDs: about half the link time of fp32).
// The collectives are modules (collective_module.hpp); several of them run in one program, on both axes.
// Not modelled: simd_64 packing (simd_32 already moves one packed wavelet per cycle, the ramp's rate).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "firmware/csl/csl.hpp"
#include "hw/arch_params.hpp"
#include "hw/route_config.hpp"

namespace wafersim::kernels {

using hw::Color;
constexpr Color kNoColor = hw::kNullColor;

enum class Axis { X, Y };  // X: every row reduces independently (west..east); Y: every column (north..south)
enum class DType { F16, F32 };
enum class ReduceOp { Sum, Max };

const char* to_string(Axis a);
const char* to_string(DType d);
const char* to_string(ReduceOp o);

struct CollectiveConfig {
  int width = 1, height = 1;      // the rectangle (PEs)
  Axis axis = Axis::X;            // the axis the collective runs along; every line does its own
  std::uint32_t length = 1;       // elements per PE
  DType dtype = DType::F32;       // element type of the exported vector `x`
  ReduceOp op = ReduceOp::Sum;
  bool fp32_accumulate = false;   // fp16 data: partial sums travel and accumulate in fp32 (fmachs), rounded once
  bool simd32 = false;            // fp16 partials travel two per wavelet (simd_32 fabin/fabout); needs fp16 partials
  std::vector<Color> colors{};    // colours the kernel may use, in order of preference; empty: every routable
                                  // colour not reserved by host I/O (WSE-2: 0..20)
  int line_length() const { return axis == Axis::X ? width : height; }
  int lines() const { return axis == Axis::X ? height : width; }
  // The element type partial results travel in (fp32 for fp32 data, or fp16 data summed with fp32_accumulate).
  DType acc_type() const { return acc_type(op); }
  // ... of this configuration with reduction `with`.
  DType acc_type(ReduceOp with) const {
    return (dtype == DType::F32 || (fp32_accumulate && with == ReduceOp::Sum)) ? DType::F32 : DType::F16;
  }
};

// The colours a kernel may take, checked once against the architecture: routable, not reserved by host I/O, no
// duplicates. take() hands them out in order and throws CapacityError naming the kernel when they run out.
class ColorPool {
 public:
  ColorPool(const std::vector<Color>& given, const hw::ArchParams& arch, std::string kernel);
  Color take(const std::string& purpose);
  const std::vector<Color>& all() const { return colors_; }
  const std::string& kernel() const { return kernel_; }

 private:
  std::vector<Color> colors_;
  std::size_t next_ = 0;
  std::string kernel_;
};

// Directions along a line: Low points to position 0 (West for X, North for Y), High to the last position.
enum LineDir : std::uint8_t { kLow = 1, kHigh = 2, kRamp = 4 };

// One PE of a line in a stream plan. A sending PE combines its vector `x` with every input stream (one DSD op per
// input, joined through local loopback colours when there are several) and streams the result on `out`; a PE with a
// `receive` colour overwrites `x` with the stream arriving there (the final result). A `staged` PE joins its two
// inputs without a loopback: x op= inputs[0] in memory, then it streams x op inputs[1] (stage_joins).
struct StreamNode {
  std::vector<Color> inputs;     // partial streams arriving at this PE
  std::vector<int> from;         // the position streaming each input
  bool sends = false;            // streams its (combined) vector on `out`
  Color out = kNoColor;
  Color receive = kNoColor;
  std::vector<Color> loopbacks;  // RAMP -> RAMP colours joining the inputs (assign_loopbacks)
  bool staged = false;
};

struct LineRoute {
  int pos;
  Color color;
  std::uint8_t rx, tx;  // LineDir masks
};

// The plan of one line of P PEs: nodes and routes. Every line of the rectangle runs the same plan.
class LinePlan {
 public:
  explicit LinePlan(int positions);
  int size() const { return int(nodes_.size()); }
  StreamNode& node(int pos) { return nodes_.at(pos); }
  const StreamNode& node(int pos) const { return nodes_.at(pos); }
  const std::vector<LineRoute>& routes() const { return routes_; }

  // Colour c at PE pos: rx / tx masks. A colour is configured at most once per PE (planner bug otherwise).
  void route(int pos, Color c, std::uint8_t rx, std::uint8_t tx);
  bool uses(int pos, Color c) const;
  // `from` streams its combined vector to `to` on c, passing through the PEs in between without touching their CE.
  void stream(int from, int to, Color c);
  // Chain from `from` towards `to` (exclusive): each PE streams to its neighbour; the link between positions p and
  // p+1 uses c[p % 2], so a PE never receives and sends on one colour.
  void chain(int from, int to, Color c0, Color c1);
  // Single-stage multicast: `root` sends on c to every PE of [lo, hi], which all receive it into x (the root too if
  // root_receives). The root's combined stream is what is multicast.
  void multicast(int root, int lo, int hi, Color c, bool root_receives);
  // Gives every PE with k >= 2 inputs k-1 loopback colours: the first colours of `pool` not configured at that PE.
  void assign_loopbacks(ColorPool& pool);
  // The alternative to loopbacks for PEs joining two streams (no more): each becomes `staged`, its inputs ordered by
  // how many positions they carry (the smaller, earlier stream first, absorbed into x while the other is on its
  // way). An input queue less per join, no loopback colour, and the RAMP carries 3 streams into such a PE, not 4;
  // the join's first input is not streamed through (n cycles before the second input flows). `kernel` names the
  // collective in the logic_error for a PE joining more than two streams.
  void stage_joins(const std::string& kernel);

  int colors_at(int pos) const;
  int colors_per_pe_max() const;
  std::vector<Color> colors_used() const;  // ascending

 private:
  std::vector<StreamNode> nodes_;
  std::vector<LineRoute> routes_;
  std::vector<std::uint32_t> used_;  // per position: bit c = colour c configured
};

struct CollectivePlan;

// A collective ready to load: the layout (programs export the vector "x" and the function `function`), the colours
// it configures, and the per-PE maximum that must fit the router's colours minus host I/O's.
struct CollectiveLayout {
  std::unique_ptr<csl::Layout> layout;
  std::string function;
  int colors_per_pe_max = 0;
  std::vector<Color> colors_used;
  CollectiveConfig config;                             // of the first phase
  std::shared_ptr<const LinePlan> plan;                // the first phase's per-line plan (routes; stream nodes)
  std::vector<std::shared_ptr<const CollectivePlan>> phases;  // run in order by every PE (collective_module.hpp)
};

// Maps a line position to rectangle coordinates and a LineDir mask to hw::Dir bits.
void line_to_xy(const CollectiveConfig& cfg, int line, int pos, int& x, int& y);
hw::DirMask to_dirs(Axis axis, std::uint8_t line_mask);
// Checks the configuration (rectangle, length, fp32 accumulation only for fp16 sums). Throws ConfigError.
void validate(const CollectiveConfig& cfg, const std::string& kernel);

// ---- host-side helpers (untimed memcpy of the vector "x"; values as float, converted to/from the dtype)
void write_x(csl::Layout& layout, const CollectiveConfig& cfg, int x, int y, const std::vector<float>& values);
std::vector<float> read_x(const csl::Layout& layout, const CollectiveConfig& cfg, int x, int y);
// Whether every program of the layout finished its part of the collective (CollectiveProgram::finished).
bool all_finished(const csl::Layout& layout);

}  // namespace wafersim::kernels
