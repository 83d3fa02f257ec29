#include <bit>
#include "firmware/csl/layout.hpp"

#include <algorithm>
#include <stdexcept>

#include "common/error.hpp"
#include "fabric/transport.hpp"
#include "hw/pe_agent.hpp"

namespace wafersim::csl {

namespace {
std::string xy(int x, int y) { return "(" + std::to_string(x) + "," + std::to_string(y) + ")"; }
}  // namespace

Layout::Layout(int width, int height) : width_(width), height_(height) {
  if (width <= 0 || height <= 0)
    throw ConfigError("layout: rectangle " + std::to_string(width) + "x" + std::to_string(height) +
                      " must be at least 1x1");
  tiles_.resize(std::size_t(width) * height);
}

Layout::~Layout() = default;

void Layout::check_xy(int x, int y, const char* what) const {
  if (x < 0 || y < 0 || x >= width_ || y >= height_)
    throw ConfigError(std::string("layout: ") + what + " at PE" + xy(x, y) + " is outside the " +
                      std::to_string(width_) + "x" + std::to_string(height_) + " rectangle");
}

void Layout::set_tile_code(int x, int y, Factory factory) {
  check_xy(x, y, "set_tile_code");
  if (loaded()) throw std::logic_error("layout: set_tile_code after load");
  tiles_[std::size_t(y) * width_ + x].factory = std::uint32_t(factories_.size());
  factories_.push_back(std::move(factory));
}

void Layout::set_tile_code(int x, int y, int w, int h, Factory factory) {
  check_xy(x, y, "set_tile_code");
  if (w <= 0 || h <= 0) throw ConfigError("layout: set_tile_code over an empty " + std::to_string(w) + "x" + std::to_string(h) + " rectangle");
  check_xy(x + w - 1, y + h - 1, "set_tile_code");
  if (loaded()) throw std::logic_error("layout: set_tile_code after load");
  const auto f = std::uint32_t(factories_.size());
  factories_.push_back(std::move(factory));
  for (int j = y; j < y + h; ++j)
    for (int i = x; i < x + w; ++i) tiles_[std::size_t(j) * width_ + i].factory = f;
}

void Layout::set_color_config(int x, int y, Color c, const hw::ColorConfig& cfg, const std::string& claimant) {
  check_xy(x, y, "set_color_config");
  if (loaded()) throw std::logic_error("layout: set_color_config after load (use the router's teardown API)");
  static const std::string kLayout = "the layout";
  const std::string& who = claimant.empty() ? kLayout : claimant;
  std::size_t i = 0;
  while (i < claimants_.size() && claimants_[i] != who) ++i;
  if (i == claimants_.size()) claimants_.push_back(who);
  if (last_cfg_ >= configs_.size() || !(configs_[last_cfg_] == cfg)) {
    last_cfg_ = 0;
    while (last_cfg_ < configs_.size() && !(configs_[last_cfg_] == cfg)) ++last_cfg_;
    if (last_cfg_ == configs_.size()) configs_.push_back(cfg);
  }
  routes_.push_back({std::uint16_t(x), std::uint16_t(y), c, std::uint16_t(i), last_cfg_});
}

void Layout::export_symbol(const std::string& name) {
  if (std::find(exported_.begin(), exported_.end(), name) == exported_.end()) exported_.push_back(name);
}

void Layout::load(fabric::Transport& fabric, int x0, int y0) {
  if (loaded()) throw std::logic_error("layout: loaded twice");
  if (x0 < 0 || y0 < 0 || x0 + width_ > fabric.width() || y0 + height_ > fabric.height())
    throw ConfigError("layout: the " + std::to_string(width_) + "x" + std::to_string(height_) +
                      " rectangle at offset " + xy(x0, y0) + " does not fit the " + std::to_string(fabric.width()) +
                      "x" + std::to_string(fabric.height()) + " fabric");
  const int colors = fabric.arch().router.routable_colors;
  // A colour configured twice at a PE: name both claimants (bit c of a PE's mask: colour c configured).
  std::vector<std::uint64_t> configured(tiles_.size(), 0);
  for (const Route& r : routes_) {
    if (r.color >= colors)
      throw ConfigError("layout: colour " + std::to_string(r.color) + " at PE" + xy(r.x, r.y) + " is not routable (0.." +
                        std::to_string(colors - 1) + ")");
    std::uint64_t& m = configured[std::size_t(r.y) * width_ + r.x];
    if (m & (1ull << r.color)) {
      const auto first = std::find_if(routes_.begin(), routes_.end(), [&](const Route& o) {
        return o.x == r.x && o.y == r.y && o.color == r.color;
      });
      throw ConfigError("PE" + xy(x0 + r.x, y0 + r.y) + ": colour " + std::to_string(r.color) + " claimed by " +
                        claimants_[first->claimant] + " and " + claimants_[r.claimant]);
    }
    m |= 1ull << r.color;
  }
  x0_ = x0;
  y0_ = y0;
  try {
    attach(fabric, x0, y0);
  } catch (...) {
    release(fabric);  // nothing half-loaded: a failed load leaves the PEs as they were (e.g. their SRAM free)
    throw;
  }
  fabric_ = &fabric;
}

void Layout::attach(fabric::Transport& fabric, int x0, int y0) {
  for (int y = 0; y < height_; ++y) {
    for (int x = 0; x < width_; ++x) {
      Tile& t = tiles_[std::size_t(y) * width_ + x];
      if (t.factory == kNoFactory) continue;
      const int fx = x0 + x, fy = y0 + y;
      try {
        t.program = factories_[t.factory](x, y);
      } catch (const CapacityError& e) {
        throw CapacityError("PE" + xy(fx, fy) + ": " + e.what());
      }
      if (!t.program) throw std::invalid_argument("layout: the factory of PE" + xy(x, y) + " built no program");
      t.engine = std::make_unique<hw::ComputeEngine>(fabric.arch(), fx, fy, fabric.sram(fx, fy), fabric.queues(fx, fy));
      t.program->fabric_ = &fabric;
      t.program->attach(*t.engine);
      for (const std::string& s : exported_)
        if (!t.program->has_symbol(s))
          throw ConfigError("layout: exported symbol '" + s + "' is not defined by PE" + xy(fx, fy) + " program " +
                            t.program->name());
      const int pe = fabric.index(fx, fy);
      t.engine->set_waker([&fabric, pe](hw::Cycle at) { fabric.wake(pe, std::max(at, fabric.now())); });
    }
  }
  // Routes PE by PE (in the order given at each PE), each router's colours reserved once.
  std::vector<std::uint32_t> first(tiles_.size() + 1, 0), order(routes_.size());
  for (const Route& r : routes_) ++first[std::size_t(r.y) * width_ + r.x + 1];
  for (std::size_t pe = 0; pe < tiles_.size(); ++pe) first[pe + 1] += first[pe];
  {
    std::vector<std::uint32_t> next(first.begin(), first.end() - 1);
    for (std::uint32_t i = 0; i < routes_.size(); ++i)
      order[next[std::size_t(routes_[i].y) * width_ + routes_[i].x]++] = i;
  }
  for (std::size_t pe = 0; pe < tiles_.size(); ++pe) {
    if (first[pe] == first[pe + 1]) continue;
    const int x = int(pe % width_), y = int(pe / width_);
    fabric.reserve_colors(x0 + x, y0 + y, int(first[pe + 1] - first[pe]));
    for (std::uint32_t k = first[pe]; k < first[pe + 1]; ++k) {
      const Route& r = routes_[order[k]];
      fabric.set_color_config(x0 + x, y0 + y, r.color, configs_[r.cfg]);
    }
  }
  for (int y = 0; y < height_; ++y)
    for (int x = 0; x < width_; ++x)
      if (Tile& t = tiles_[std::size_t(y) * width_ + x]; t.engine)
        fabric.attach_agent(x0 + x, y0 + y, t.engine.get(), fabric.now());
}

namespace {
// Stands on a PE whose layout was unloaded: never busy, never stepped again.
class IdleAgent final : public hw::PeAgent {
 public:
  hw::Cycle step(hw::Cycle, hw::PeQueues&) override { return hw::kNever; }
  bool busy() const override { return false; }
};
IdleAgent idle_agent;
}  // namespace

void Layout::unload() {
  if (!loaded()) throw std::logic_error("layout: unload before load");
  for (int y = 0; y < height_; ++y)
    for (int x = 0; x < width_; ++x)
      if (const Tile& t = tiles_[std::size_t(y) * width_ + x]; t.engine && t.engine->busy())
        throw std::logic_error("layout: unload while PE" + xy(x0_ + x, y0_ + y) + " is busy (run the fabric first)");
  release(*fabric_);
  fabric_ = nullptr;
}

void Layout::release(fabric::Transport& f) {
  for (const Route& r : routes_) f.set_color_config(x0_ + r.x, y0_ + r.y, r.color, hw::ColorConfig{});
  for (int y = 0; y < height_; ++y)
    for (int x = 0; x < width_; ++x) {
      Tile& t = tiles_[std::size_t(y) * width_ + x];
      if (t.factory == kNoFactory) continue;
      const int fx = x0_ + x, fy = y0_ + y;
      for (int c = 0; c < hw::kMaxColors; ++c) f.queues(fx, fy).bind_input_queue(hw::kUnbound, Color(c));
      f.sram(fx, fy).release_all();
      if (t.engine) f.attach_agent(fx, fy, &idle_agent, f.now());
      t.engine.reset();
      t.program.reset();
    }
}

std::size_t Layout::roles() const {
  std::vector<const ProgramCode*> codes;
  for (const Tile& t : tiles_)
    if (t.program) codes.push_back(&t.program->code());
  std::sort(codes.begin(), codes.end());
  return std::size_t(std::unique(codes.begin(), codes.end()) - codes.begin());
}

std::vector<Color> Layout::colors_at(int x, int y) const {
  std::vector<Color> v;
  for (const Route& r : routes_)
    if (r.x == x && r.y == y && std::find(v.begin(), v.end(), r.color) == v.end()) v.push_back(r.color);
  std::sort(v.begin(), v.end());
  return v;
}

int Layout::max_colors_per_pe() const {
  // One pass over the routes (colors_at per PE would be quadratic in the mesh size).
  std::vector<std::uint32_t> used(std::size_t(width_) * height_, 0);
  for (const Route& r : routes_) used[std::size_t(r.y) * width_ + r.x] |= std::uint32_t(1) << r.color;
  int best = 0;
  for (std::uint32_t m : used) best = std::max(best, std::popcount(m));
  return best;
}

bool Layout::has_program(int x, int y) const {
  return x >= 0 && y >= 0 && x < width_ && y < height_ && tiles_[std::size_t(y) * width_ + x].program;
}

Program& Layout::program(int x, int y) const {
  check_xy(x, y, "program");
  const Tile& t = tiles_[std::size_t(y) * width_ + x];
  if (!t.program) throw std::invalid_argument("layout: PE" + xy(x, y) + " has no program (or the layout is not loaded)");
  return *t.program;
}

hw::ComputeEngine& Layout::engine(int x, int y) const {
  program(x, y);
  return *tiles_[std::size_t(y) * width_ + x].engine;
}

int Layout::call(const std::string& fn) {
  int n = 0;
  for (Tile& t : tiles_)
    if (t.program && t.program->exports(fn)) {
      t.program->call(fn);
      ++n;
    }
  if (n == 0) throw std::invalid_argument("layout: no PE exports a function '" + fn + "'");
  return n;
}

ArrayBase& Layout::checked_symbol(int x, int y, const std::string& name, std::size_t elem_bytes) const {
  ArrayBase& a = program(x, y).symbol(name);
  if (a.elem_bytes() != elem_bytes)
    throw std::invalid_argument("PE" + xy(x, y) + ": symbol '" + name + "' has " + std::to_string(a.elem_bytes()) +
                                "-byte elements, accessed as " + std::to_string(elem_bytes) + "-byte");
  return a;
}

}  // namespace wafersim::csl
