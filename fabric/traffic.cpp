#include "fabric/traffic.hpp"

#include <cmath>

#include "common/error.hpp"

namespace wafersim::fabric {

using hw::bit;
using hw::Dir;
using hw::kNever;
using hw::Wavelet;

void StreamAgent::send(const Wavelet& w, int oq, Cycle not_before) {
  if (to_send_.size() <= std::size_t(oq)) to_send_.resize(oq + 1);
  to_send_[oq].push_back({w, oq, not_before});
  ++to_send_count_;
}

Cycle StreamAgent::step(Cycle now, hw::PeQueues& q) {
  Cycle next = kNever;
  for (auto& pending : to_send_) {
    if (pending.empty() || to_send_count_ == 0) continue;
    const Pending& p = pending.front();
    if (p.not_before > now) {
      next = std::min(next, p.not_before);
    } else if (!q.oq(p.oq).full()) {
      q.push_output(p.oq, p.w);
      send_cycles_.push_back(now);
      pending.pop_front();
      --to_send_count_;
      if (!pending.empty()) next = std::min(next, std::max(now + 1, pending.front().not_before));
    }  // else: woken when the router takes a word from the queue
  }
  if (consume_every_ > 0) {
    bool any_left = false;
    if (!popped_once_ || now >= last_pop_ + consume_every_) {
      bool popped = false;
      for (std::uint32_t set = q.input_nonempty_mask(); set; set &= set - 1) {
        const int iq = __builtin_ctz(set);
        const Wavelet w = q.pop_input(iq);
        ++received_count_;
        if (keep_log_) received_.push_back({w, now, iq});
        popped = true;
      }
      any_left = q.input_nonempty_mask() != 0;
      if (popped) {
        last_pop_ = now;
        popped_once_ = true;
      }
    } else {
      any_left = q.input_nonempty_mask() != 0;
    }
    if (any_left) next = std::min(next, popped_once_ ? std::max(now + 1, last_pop_ + consume_every_) : now + 1);
  }
  return next;
}

void StreamAgent::describe_wait(std::ostream& os) const {
  os << "stream driver: " << to_send_count_ << " wavelet(s) to send, received " << received_count_ << " of "
     << expected_ << " expected";
}

// Uniform-pattern source: Bernoulli(rate) injections per cycle (geometric gaps), each on a random direction
// among those whose segment fits in the mesh.
class Traffic::Source : public hw::PeAgent {
 public:
  Source(std::vector<std::pair<int, hw::Color>> lanes, double rate, Cycle stop, std::uint64_t seed)
      : lanes_(std::move(lanes)), rate_(rate), stop_(stop), state_(seed) {}
  Cycle step(Cycle now, hw::PeQueues& q) override {
    if (lanes_.empty() || now >= stop_) return kNever;
    if (now >= next_) {
      const auto& [oq, color] = lanes_[lanes_.size() == 1 ? 0 : next_random() % lanes_.size()];
      if (!q.oq(oq).full()) {
        q.push_output(oq, Wavelet{static_cast<std::uint32_t>(injected_), color, false});
        ++injected_;
      }
      next_ = now + gap();
    }
    return next_ < stop_ ? next_ : kNever;
  }
  bool busy() const override { return false; }  // open-loop traffic: the run length decides
  std::uint64_t injected() const { return injected_; }

 private:
  Cycle gap() {
    if (rate_ >= 1.0) return 1;
    const double u = double(next_random() >> 11) * 0x1.0p-53;  // uniform in [0, 1)
    return 1 + static_cast<Cycle>(std::floor(std::log1p(-u) / log_miss_));
  }
  std::vector<std::pair<int, hw::Color>> lanes_;
  double rate_;
  Cycle stop_, next_ = 0;
  // splitmix64: cheap, deterministic, good enough for traffic generation.
  std::uint64_t next_random() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::uint64_t state_;
  double log_miss_ = std::log1p(-rate_);
  std::uint64_t injected_ = 0;
};

Traffic::Traffic(Fabric& fabric, const TrafficConfig& cfg) {
  const int W = fabric.width(), H = fabric.height();
  if (cfg.pattern == "none") return;
  if (cfg.pattern == "row-broadcast") {
    colors_used_ = 1;
    for (int y = 0; y < H; ++y) {
      for (int x = 0; x < W; ++x) {
        hw::ColorConfig c;
        c.rx = x == 0 ? bit(Dir::Ramp) : bit(Dir::West);
        c.tx = (x + 1 < W ? bit(Dir::East) : 0) | (x > 0 || W == 1 ? bit(Dir::Ramp) : 0);
        fabric.set_color_config(x, y, 0, c);
        if (x == 0 && W > 1) {
          auto src = std::make_unique<Source>(std::vector<std::pair<int, hw::Color>>{{2, 0}}, 1.0, cfg.cycles,
                                              cfg.seed + y);
          sources_.push_back(src.get());
          fabric.attach_agent(x, y, src.get());
          agents_.push_back(std::move(src));
          continue;
        }
        fabric.queues(x, y).bind_input_queue(2, 0);
        auto sink = std::make_unique<StreamAgent>();
        sink->keep_log(false);
        sinks_.push_back(sink.get());
        fabric.attach_agent(x, y, sink.get());
        agents_.push_back(std::move(sink));
      }
    }
    return;
  }
  if (cfg.pattern != "uniform")
    throw ConfigError("--pattern " + cfg.pattern + ": expected uniform, row-broadcast or none");
  const int D = cfg.hops;
  const int routable = fabric.arch().router.routable_colors;
  if (D < 1 || 4 * (D + 1) > routable)
    throw ConfigError("--hops " + std::to_string(D) + ": the uniform pattern uses 4*(hops+1) colours; with " +
                      std::to_string(routable) + " routable colours hops must be 1.." + std::to_string(routable / 4 - 1));
  if (!(cfg.rate > 0.0 && cfg.rate <= 1.0)) throw ConfigError("--rate must be in (0, 1]");
  colors_used_ = 4 * (D + 1);
  // Direction d (E, W, S, N) and phase k use colour d*(D+1)+k. Along the direction of travel, a segment starts
  // at positions p == k (mod D+1) and ends D hops later; it exists only if it fits in the mesh.
  const Dir dirs[4] = {Dir::East, Dir::West, Dir::South, Dir::North};
  std::vector<std::vector<std::pair<int, hw::Color>>> lanes(std::size_t(W) * H);
  for (int d = 0; d < 4; ++d) {
    const Dir dir = dirs[d];
    const bool horizontal = dir == Dir::East || dir == Dir::West;
    const int len = horizontal ? W : H;
    const Dir back = hw::opposite(dir);
    for (int k = 0; k <= D; ++k) {
      const hw::Color color = static_cast<hw::Color>(d * (D + 1) + k);
      for (int start = k; start + D < len; start += D + 1) {
        for (int j = 0; j <= D; ++j) {
          const int along = start + j;  // index along the direction of travel
          const int pos = (dir == Dir::East || dir == Dir::South) ? along : len - 1 - along;
          for (int other = 0; other < (horizontal ? H : W); ++other) {
            const int x = horizontal ? pos : other, y = horizontal ? other : pos;
            hw::ColorConfig c;
            c.rx = j == 0 ? bit(Dir::Ramp) : bit(back);
            c.tx = j == D ? bit(Dir::Ramp) : bit(dir);
            fabric.set_color_config(x, y, color, c);
            if (j == 0) lanes[fabric.index(x, y)].push_back({d, color});
            if (j == D) fabric.queues(x, y).bind_input_queue(d, color);
          }
        }
      }
    }
  }
  std::mt19937_64 seeder(cfg.seed);
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) {
      auto src = std::make_unique<Source>(lanes[fabric.index(x, y)], cfg.rate, cfg.cycles, seeder());
      sources_.push_back(src.get());
      // The PE's single agent is the source; a sink agent would replace it, so sources also drain: see below.
      agents_.push_back(std::move(src));
    }
  }
  // One agent per PE: wrap source and sink behaviour in a combined driver.
  class Both : public hw::PeAgent {
   public:
    Both(hw::PeAgent* a, StreamAgent* b) : a_(a), b_(b) {}
    Cycle step(Cycle now, hw::PeQueues& q) override { return std::min(a_->step(now, q), b_->step(now, q)); }
    bool busy() const override { return false; }

   private:
    hw::PeAgent* a_;
    StreamAgent* b_;
  };
  const std::size_t n_sources = agents_.size();
  for (std::size_t i = 0; i < n_sources; ++i) {
    auto sink = std::make_unique<StreamAgent>();
    sink->keep_log(false);
    auto both = std::make_unique<Both>(agents_[i].get(), sink.get());
    fabric.attach_agent(int(i) % W, int(i) / W, both.get());
    sinks_.push_back(sink.get());
    agents_.push_back(std::move(sink));
    agents_.push_back(std::move(both));
  }
}

Traffic::~Traffic() = default;

std::uint64_t Traffic::injected() const {
  std::uint64_t n = 0;
  for (auto* s : sources_) n += s->injected();
  for (auto* s : sinks_) n += s->send_cycles().size();
  return n;
}

std::uint64_t Traffic::delivered() const {
  std::uint64_t n = 0;
  for (auto* s : sinks_) n += s->received_count();
  return n;
}

}  // namespace wafersim::fabric
