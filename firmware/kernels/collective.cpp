#include "firmware/kernels/collective.hpp"

#include <algorithm>
#include <bit>
#include <functional>
#include <stdexcept>

#include "common/error.hpp"
#include "firmware/kernels/collective_module.hpp"

namespace wafersim::kernels {

const char* to_string(Axis a) { return a == Axis::X ? "x" : "y"; }
const char* to_string(DType d) { return d == DType::F16 ? "fp16" : "fp32"; }
const char* to_string(ReduceOp o) { return o == ReduceOp::Sum ? "sum" : "max"; }

// ---- colour pool ----------------------------------------------------------------------------------------------

ColorPool::ColorPool(const std::vector<Color>& given, const hw::ArchParams& arch, std::string kernel)
    : kernel_(std::move(kernel)) {
  const auto& reserved = arch.host_io.reserved_colors;
  auto is_reserved = [&](int c) { return std::find(reserved.begin(), reserved.end(), c) != reserved.end(); };
  if (given.empty()) {
    for (int c = 0; c < arch.router.routable_colors; ++c)
      if (!is_reserved(c)) colors_.push_back(Color(c));
    return;
  }
  for (Color c : given) {
    if (c >= arch.router.routable_colors)
      throw ConfigError(kernel_ + ": colour " + std::to_string(c) + " is not routable (0.." +
                        std::to_string(arch.router.routable_colors - 1) + " in " + arch.name + ")");
    if (is_reserved(c))
      throw ConfigError(kernel_ + ": colour " + std::to_string(c) + " is reserved by host I/O (host_io.reserved_colors)");
    if (std::find(colors_.begin(), colors_.end(), c) != colors_.end())
      throw ConfigError(kernel_ + ": colour " + std::to_string(c) + " is given twice");
    colors_.push_back(c);
  }
}

Color ColorPool::take(const std::string& purpose) {
  if (next_ >= colors_.size())
    throw CapacityError(kernel_ + ": needs a colour for " + purpose + " but all " + std::to_string(colors_.size()) +
                        " given colours are taken");
  return colors_[next_++];
}

// ---- line plan ------------------------------------------------------------------------------------------------

LinePlan::LinePlan(int positions) : nodes_(std::size_t(positions)), used_(std::size_t(positions), 0) {
  if (positions < 1) throw ConfigError("line of " + std::to_string(positions) + " PEs: need at least 1");
}

void LinePlan::route(int pos, Color c, std::uint8_t rx, std::uint8_t tx) {
  if (pos < 0 || pos >= size()) throw std::logic_error("line plan: position " + std::to_string(pos) + " off the line");
  if (used_[pos] & (1u << c))
    throw std::logic_error("line plan: colour " + std::to_string(c) + " configured twice at position " +
                           std::to_string(pos));
  used_[pos] |= 1u << c;
  routes_.push_back({pos, c, rx, tx});
}

bool LinePlan::uses(int pos, Color c) const { return (used_.at(pos) >> c) & 1u; }

void LinePlan::stream(int from, int to, Color c) {
  if (from == to) throw std::logic_error("line plan: stream to itself");
  StreamNode& src = node(from);
  if (src.sends) throw std::logic_error("line plan: position " + std::to_string(from) + " streams twice");
  src.sends = true;
  src.out = c;
  node(to).inputs.push_back(c);
  node(to).from.push_back(from);
  const int d = to > from ? 1 : -1;
  const std::uint8_t fwd = d > 0 ? kHigh : kLow, back = d > 0 ? kLow : kHigh;
  route(from, c, kRamp, fwd);
  for (int p = from + d; p != to; p += d) route(p, c, back, fwd);
  route(to, c, back, kRamp);
}

void LinePlan::chain(int from, int to, Color c0, Color c1) {
  const int d = to > from ? 1 : -1;
  for (int p = from; p != to; p += d) stream(p, p + d, (std::min(p, p + d) % 2) ? c1 : c0);
}

void LinePlan::multicast(int root, int lo, int hi, Color c, bool root_receives) {
  StreamNode& r = node(root);
  if (r.sends) throw std::logic_error("line plan: multicast root already streams");
  r.sends = true;
  r.out = c;
  if (root_receives) r.receive = c;
  route(root, c, kRamp, std::uint8_t((lo < root ? kLow : 0) | (hi > root ? kHigh : 0) | (root_receives ? kRamp : 0)));
  for (int p = lo; p < root; ++p) {
    node(p).receive = c;
    route(p, c, kHigh, std::uint8_t(kRamp | (p > lo ? kLow : 0)));
  }
  for (int p = root + 1; p <= hi; ++p) {
    node(p).receive = c;
    route(p, c, kLow, std::uint8_t(kRamp | (p < hi ? kHigh : 0)));
  }
}

void LinePlan::assign_loopbacks(ColorPool& pool) {
  for (int p = 0; p < size(); ++p) {
    StreamNode& n = nodes_[p];
    n.loopbacks.clear();
    const std::size_t need = n.inputs.size() >= 2 ? n.inputs.size() - 1 : 0;
    for (Color c : pool.all()) {
      if (n.loopbacks.size() == need) break;
      if (uses(p, c)) continue;
      n.loopbacks.push_back(c);
      route(p, c, kRamp, kRamp);
    }
    if (n.loopbacks.size() < need)
      throw CapacityError(pool.kernel() + ": position " + std::to_string(p) + " joins " +
                          std::to_string(n.inputs.size()) + " streams and needs " + std::to_string(need) +
                          " loopback colour(s) besides its " + std::to_string(colors_at(p) - int(n.loopbacks.size())) +
                          " routed ones, but only " + std::to_string(pool.all().size()) + " colours were given");
  }
}

void LinePlan::stage_joins(const std::string& kernel) {
  std::vector<int> carried(nodes_.size(), 0);  // positions whose x a node's out stream carries (0: not computed)
  std::function<int(int)> count = [&](int p) {
    if (carried[p] == 0) {
      carried[p] = 1;
      for (int f : nodes_[p].from) carried[p] += count(f);
    }
    return carried[p];
  };
  for (int p = 0; p < size(); ++p) {
    StreamNode& n = nodes_[p];
    if (n.inputs.size() < 2) continue;
    if (n.inputs.size() > 2 || !n.sends)
      throw std::logic_error(kernel + ": position " + std::to_string(p) + " joins " + std::to_string(n.inputs.size()) +
                             " streams; staged joins take two and send the result");
    if (count(n.from[1]) < count(n.from[0])) {
      std::swap(n.inputs[0], n.inputs[1]);
      std::swap(n.from[0], n.from[1]);
    }
    n.staged = true;
  }
}

int LinePlan::colors_at(int pos) const { return std::popcount(used_.at(pos)); }

int LinePlan::colors_per_pe_max() const {
  int m = 0;
  for (int p = 0; p < size(); ++p) m = std::max(m, colors_at(p));
  return m;
}

std::vector<Color> LinePlan::colors_used() const {
  std::uint32_t all = 0;
  for (auto u : used_) all |= u;
  std::vector<Color> v;
  for (int c = 0; c < 32; ++c)
    if (all & (1u << c)) v.push_back(Color(c));
  return v;
}

// ---- layout helpers -------------------------------------------------------------------------------------------

void line_to_xy(const CollectiveConfig& cfg, int line, int pos, int& x, int& y) {
  if (cfg.axis == Axis::X) {
    x = pos;
    y = line;
  } else {
    x = line;
    y = pos;
  }
}

hw::DirMask to_dirs(Axis axis, std::uint8_t m) {
  using hw::bit;
  using hw::Dir;
  hw::DirMask d = 0;
  if (m & kLow) d |= bit(axis == Axis::X ? Dir::West : Dir::North);
  if (m & kHigh) d |= bit(axis == Axis::X ? Dir::East : Dir::South);
  if (m & kRamp) d |= bit(Dir::Ramp);
  return d;
}

void validate(const CollectiveConfig& cfg, const std::string& kernel) {
  if (cfg.width < 1 || cfg.height < 1)
    throw ConfigError(kernel + ": rectangle " + std::to_string(cfg.width) + "x" + std::to_string(cfg.height) +
                      " must be at least 1x1");
  if (cfg.length < 1) throw ConfigError(kernel + ": vector length must be at least 1");
  if (cfg.fp32_accumulate && cfg.dtype != DType::F16)
    throw ConfigError(kernel + ": fp32_accumulate applies to fp16 data only");
  if (cfg.simd32 && cfg.acc_type() != DType::F16)
    throw ConfigError(kernel + ": simd32 packs two fp16 per wavelet: it needs fp16 partials (fp16 data without "
                      "fp32_accumulate), not " + std::string(to_string(cfg.acc_type())));
}

void write_x(csl::Layout& layout, const CollectiveConfig& cfg, int x, int y, const std::vector<float>& values) {
  if (cfg.dtype == DType::F32) {
    layout.write_symbol<float>(x, y, "x", values);
  } else {
    std::vector<csl::f16> h(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) h[i] = csl::f16(values[i]);
    layout.write_symbol<csl::f16>(x, y, "x", h);
  }
}

std::vector<float> read_x(const csl::Layout& layout, const CollectiveConfig& cfg, int x, int y) {
  if (cfg.dtype == DType::F32) return layout.read_symbol<float>(x, y, "x");
  const auto h = layout.read_symbol<csl::f16>(x, y, "x");
  std::vector<float> v(h.size());
  for (std::size_t i = 0; i < h.size(); ++i) v[i] = h[i].to_float();
  return v;
}

bool all_finished(const csl::Layout& layout) {
  for (int y = 0; y < layout.height(); ++y)
    for (int x = 0; x < layout.width(); ++x)
      if (layout.has_program(x, y)) {
        auto* p = dynamic_cast<const CollectiveProgram*>(&layout.program(x, y));
        if (p && !p->finished()) return false;
      }
  return true;
}

}  // namespace wafersim::kernels
