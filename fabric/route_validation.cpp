// Route checks at layout time: a colour config is checked when set (PE on the mesh, routable colour, switch
// positions allowed on the colour), the routes as a whole before the run (validate_routes: every send has a
// receiver, no rx mux can be driven from two directions at once).
#include <algorithm>

#include "common/error.hpp"
#include "fabric/engine.hpp"

namespace wafersim::fabric {

using hw::bit;
using hw::Dir;
using hw::DirMask;
using hw::Router;

void Fabric::set_color_config(int x, int y, Color c, const hw::ColorConfig& cfg) {
  if (x < 0 || y < 0 || x >= width() || y >= height())
    throw ConfigError(pe_name(x, y) + " is outside the " + std::to_string(width()) + "x" + std::to_string(height()) +
                      " mesh");
  if (c >= arch_.router.routable_colors)
    throw ConfigError(pe_name(x, y) + " colour " + std::to_string(c) + ": only colours 0.." +
                      std::to_string(arch_.router.routable_colors - 1) + " are routable");
  if (cfg.filter.kind != hw::FilterKind::None || cfg.initial_position != 0 ||
      cfg.last_valid_position() != 0) {
    const auto& sw = arch_.router.switch_colors;
    if (cfg.last_valid_position() != 0 && std::find(sw.begin(), sw.end(), int(c)) == sw.end())
      throw ConfigError(pe_name(x, y) + " colour " + std::to_string(c) + ": switch positions are not supported on this colour in " +
                        arch_.name + " (router.switch_colors)");
  }
  if (cfg.initial_position > 3)
    throw ConfigError(pe_name(x, y) + " colour " + std::to_string(c) + ": initial switch position must be 0..3");
  mesh_.routers[index(x, y)].set_color_config(c, cfg);
  impl_->validated = false;
}

void Fabric::reserve_colors(int x, int y, int n) {
  if (x >= 0 && y >= 0 && x < width() && y < height() && n > 0) mesh_.routers[index(x, y)].reserve_colors(n);
}

void Fabric::validate_routes() const {
  const int w = width(), h = height();
  const std::vector<Router>& routers = mesh_.routers;
  auto neighbour = [&](int x, int y, Dir d, int& nx, int& ny) {
    nx = x + (d == Dir::East) - (d == Dir::West);
    ny = y + (d == Dir::South) - (d == Dir::North);
    return nx >= 0 && ny >= 0 && nx < w && ny < h;
  };
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const Router& router = routers[index(x, y)];
      for (const auto& cs : router.colors()) {
        const hw::ColorConfig& cfg = router.config(cs);
        const auto where = [&] { return pe_name(x, y) + " colour " + std::to_string(cs.color); };
        const int last = cfg.last_valid_position();
        if (cfg.initial_position > last && last > 0)
          throw ConfigError(where() + ": initial switch position " + std::to_string(cfg.initial_position) +
                            " is not a valid position (last valid: " + std::to_string(last) + ")");
        DirMask all_tx = 0;
        for (int p = 0; p <= last; ++p) all_tx |= cfg.tx_at(p);
        if (!cfg.configured()) continue;
        if (cfg.tx == 0 && last == 0)
          throw ConfigError(where() + ": rx " + hw::dir_mask_string(cfg.rx) + " but an empty tx set");
        for (int d = 0; d < 4; ++d) {
          if (!(all_tx & (1u << d))) continue;
          int nx, ny;
          if (!neighbour(x, y, Dir(d), nx, ny))
            throw ConfigError(where() + ": tx " + hw::dir_name(Dir(d)) + " routes off the edge of the " +
                              std::to_string(w) + "x" + std::to_string(h) + " mesh");
          const hw::ColorConfig* ncfg = routers[index(nx, ny)].color_config(cs.color);
          DirMask nrx = 0;
          if (ncfg)
            for (int p = 0; p <= ncfg->last_valid_position(); ++p) nrx |= ncfg->rx_at(p);
          if (!(nrx & bit(hw::opposite(Dir(d)))))
            throw ConfigError(where() + ": tx " + hw::dir_name(Dir(d)) + " but " + pe_name(nx, ny) +
                              " does not receive colour " + std::to_string(cs.color) + " from " +
                              hw::dir_name(hw::opposite(Dir(d))));
        }
        // rx is a mux: two neighbours that can both send this colour into it would collide.
        for (int p = 0; p <= last; ++p) {
          const DirMask rx = cfg.rx_at(p);
          std::vector<std::string> senders;
          for (int d = 0; d < 4; ++d) {
            if (!(rx & (1u << d))) continue;
            int nx, ny;
            if (!neighbour(x, y, Dir(d), nx, ny)) continue;
            const hw::ColorConfig* ncfg = routers[index(nx, ny)].color_config(cs.color);
            if (!ncfg) continue;
            DirMask ntx = 0;
            for (int q = 0; q <= ncfg->last_valid_position(); ++q) ntx |= ncfg->tx_at(q);
            if (ntx & bit(hw::opposite(Dir(d)))) senders.push_back(pe_name(nx, ny));
          }
          if (senders.size() >= 2)
            throw ConfigError(where() + ": rx " + hw::dir_mask_string(rx) +
                              " can receive the colour from two directions at once (" + senders[0] + " and " +
                              senders[1] + " both send it here); use another colour or a switch");
        }
      }
    }
  }
}

}  // namespace wafersim::fabric
