// The CSL layout block in C++: a rectangle of PEs, which Program (with which parameters) runs on each PE, the colour
// routes and switch positions of every PE, and the symbols exported to the host. load() validates it and attaches
// one compute engine per used PE to a fabric::Fabric. Every route has a claimant (a module instance, or the layout
// itself); a colour configured twice at one PE is an error at load naming the PE and both claimants.
// Host memory (up to 720x720 PEs): PEs share their factory (set_tile_code over a rectangle stores it once), PEs
// of one role share their program's code (csl::ProgramCode: one copy per distinct content, however many PEs and
// factories declared it), and routes are 12 bytes each (colour configs and claimant
// names are stored once per distinct value); load() sets routes PE by PE, reserving each router's colours once.
// Not modelled: memcpy support PEs and their reserved routes (the host runtime adds those), WSE-3
// queue/microthread configuration.
#pragma once
#include <functional>
#include <initializer_list>
#include <stdexcept>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "firmware/csl/program.hpp"
#include "hw/compute_engine.hpp"
#include "hw/route_config.hpp"

namespace wafersim::fabric {
class Transport;
}

namespace wafersim::csl {

// A colour route of one PE (rx mux, tx multicast), e.g. route(bit(Dir::West), bit(Dir::Ramp) | bit(Dir::East)).
inline hw::ColorConfig route(hw::DirMask rx, hw::DirMask tx) {
  hw::ColorConfig c;
  c.rx = rx;
  c.tx = tx;
  return c;
}

// A colour route that changes between steps (switch positions 1..3 after position 0 = (rx, tx)): each step
// overrides the rx set (one direction) or the tx set of position 0; an ADV control wavelet on the colour
// (csl::Module::advance_route, or a fabout with .advance_switch) moves every router on its path to its next step.
// `ring`: the last step wraps to position 0.
inline hw::ColorConfig route_steps(hw::DirMask rx, hw::DirMask tx, std::initializer_list<hw::SwitchPosition> steps,
                                   bool ring = false) {
  if (steps.size() > 3) throw std::invalid_argument("route_steps: at most 3 steps after the first (switch positions 1..3)");
  hw::ColorConfig c = route(rx, tx);
  std::size_t i = 0;
  for (const hw::SwitchPosition& s : steps) c.positions[i++] = s;
  c.ring_mode = ring;
  return c;
}

class Layout {
 public:
  // Builds the program of one PE; (x, y) are the PE's coordinates inside the rectangle.
  using Factory = std::function<std::unique_ptr<Program>(int x, int y)>;

  Layout(int width, int height);
  ~Layout();
  Layout(const Layout&) = delete;
  Layout& operator=(const Layout&) = delete;

  int width() const { return width_; }
  int height() const { return height_; }

  // CSL @set_tile_code: the program of PE (x, y). The typed form copies `args` into P's constructor.
  void set_tile_code(int x, int y, Factory factory);
  // The same factory for every PE of the w x h rectangle at (x, y), stored once (the PEs of one role).
  void set_tile_code(int x, int y, int w, int h, Factory factory);
  template <class P, class... Args>
  void set_tile_program(int x, int y, Args... args) {
    set_tile_code(x, y, [=](int, int) { return std::make_unique<P>(args...); });
  }
  // CSL @set_color_config: the route of colour `c` at PE (x, y), claimed by `claimant` (e.g. "module 'rows'
  // (ktree_allreduce)"; empty: "the layout").
  void set_color_config(int x, int y, Color c, const hw::ColorConfig& cfg, const std::string& claimant = {});
  // CSL @export_name: a symbol the host may read and write; every programmed PE must define it.
  void export_symbol(const std::string& name);
  const std::vector<std::string>& exported_symbols() const { return exported_; }

  // Validates the layout (coordinates inside the rectangle and the fabric, routable colours), builds the programs,
  // attaches one compute engine per programmed PE at offset (x0, y0) of the fabric, and sets the colour configs.
  // Throws ConfigError / CapacityError / std::invalid_argument naming the PE, program and symbol at fault.
  void load(fabric::Transport& fabric, int x0 = 0, int y0 = 0);
  bool loaded() const { return fabric_ != nullptr; }
  // Takes the layout off its fabric after a run: its routes are cleared, its PEs' queue bindings undone and SRAM
  // symbols freed, and its compute engines replaced by an idle agent and destroyed (programs too). Another layout
  // may then be loaded on those PEs; this one may be loaded again. Throws std::logic_error if a PE is still busy.
  void unload();

  // Colours routed through PE (x, y) by this layout (sorted), and the maximum over the rectangle.
  std::vector<Color> colors_at(int x, int y) const;
  int max_colors_per_pe() const;

  // After load: how many distinct program codes (csl::ProgramCode: roles) its PEs hold.
  std::size_t roles() const;

  bool has_program(int x, int y) const;
  Program& program(int x, int y) const;     // after load
  hw::ComputeEngine& engine(int x, int y) const;
  template <class P>
  P& program_as(int x, int y) const {
    return dynamic_cast<P&>(program(x, y));
  }
  // Calls an exported function on every PE that exports it (host launch); returns how many did.
  int call(const std::string& fn);

  // Host access to an exported symbol of one PE (untimed memcpy).
  template <Element T>
  std::vector<T> read_symbol(int x, int y, const std::string& name) const {
    const ArrayBase& a = checked_symbol(x, y, name, sizeof(T));
    std::vector<T> v(a.size());
    a.read_bytes(v.data(), 0, a.size());
    return v;
  }
  template <Element T>
  void write_symbol(int x, int y, const std::string& name, const std::vector<T>& values) {
    ArrayBase& a = checked_symbol(x, y, name, sizeof(T));
    if (values.size() > a.size())
      throw std::invalid_argument("write of " + std::to_string(values.size()) + " elements into '" + name +
                                  "' of " + std::to_string(a.size()));
    a.write_bytes(values.data(), 0, static_cast<std::uint32_t>(values.size()));
  }

 private:
  void attach(fabric::Transport& fabric, int x0, int y0);  // load()'s programs, engines and routes
  void release(fabric::Transport& fabric);  // unload()'s clean-up, also of a load that failed half-way
  static constexpr std::uint32_t kNoFactory = ~0u;
  struct Tile {
    std::uint32_t factory = kNoFactory;  // index into factories_
    std::unique_ptr<Program> program;
    std::unique_ptr<hw::ComputeEngine> engine;
  };
  ArrayBase& checked_symbol(int x, int y, const std::string& name, std::size_t elem_bytes) const;
  void check_xy(int x, int y, const char* what) const;

  int width_, height_;
  int x0_ = 0, y0_ = 0;
  std::vector<Tile> tiles_;
  std::vector<Factory> factories_;
  struct Route {
    std::uint16_t x, y;
    Color color;
    std::uint16_t claimant;  // index into claimants_
    std::uint32_t cfg;       // index into configs_
  };
  std::vector<Route> routes_;
  std::vector<hw::ColorConfig> configs_;  // distinct colour configs
  std::uint32_t last_cfg_ = 0;            // configs_ index the last route used (routes come in runs)
  std::vector<std::string> claimants_;
  std::vector<std::string> exported_;
  fabric::Transport* fabric_ = nullptr;
};

}  // namespace wafersim::csl
