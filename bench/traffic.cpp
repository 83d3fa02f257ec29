#include "bench/traffic.hpp"

#include <array>
#include <cmath>
#include <stdexcept>

#include "common/error.hpp"

namespace wafersim::bench {

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
      q.push_output(p.oq, p.w, now);
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

// What every source of one pattern shares: the injection rate, when injection stops, and the tail probabilities
// of the geometric gap between injections.
struct Traffic::Shape {
  double rate;
  Cycle stop;
  double log_miss;
  std::array<double, 12> tail{};  // tail[k] = (1 - rate)^(k+1) while above 1e-3
  std::size_t n_tail = 0;
  Shape(double r, Cycle s) : rate(r), stop(s), log_miss(std::log1p(-r)) {
    for (double p = 1.0 - rate; rate < 1.0 && p > 1e-3 && n_tail < tail.size(); p *= 1.0 - rate) tail[n_tail++] = p;
  }
};

namespace {

// Bench sink: pops at most one wavelet per non-empty input queue per step, through PeQueues (so the router sees
// the room), and asks to run again next cycle while words are left. Same behaviour as a StreamAgent with
// consume_every(1), nothing to send and no log, without the bookkeeping.
Cycle consume(Cycle now, hw::PeQueues& q, std::uint64_t& received) {
  for (std::uint32_t set = q.input_nonempty_mask(); set; set &= set - 1) {
    q.pop_input(__builtin_ctz(set));
    ++received;
  }
  return q.input_nonempty_mask() != 0 ? now + 1 : kNever;
}

}  // namespace

// Bench source: Bernoulli(rate) injections per cycle (geometric gaps), each on a random one of its lanes (output
// queue and colour; the uniform pattern has one per direction whose segment fits in the mesh). 40 bytes, so a
// uniform-pattern PE's source and sink share one cache line.
class Traffic::Generator {
 public:
  Generator(const std::vector<std::pair<int, hw::Color>>& lanes, const Shape& shape, std::uint64_t seed)
      : shape_(&shape), state_(seed) {
    if (lanes.size() > oq_.size()) throw std::logic_error("traffic source: too many lanes");
    for (const auto& [oq, color] : lanes) {
      oq_[n_lanes_] = static_cast<std::uint8_t>(oq);
      color_[n_lanes_++] = color;
    }
  }
  Cycle produce(Cycle now, hw::PeQueues& q) {
    if (n_lanes_ == 0 || now >= shape_->stop) return kNever;
    if (now >= next_) {
      const std::uint64_t r = next_random();
      const int lane = lane_of(r);
      if (!q.oq(oq_[lane]).full()) {
        q.push_output(oq_[lane], Wavelet{injected_, color_[lane], false}, now);
        ++injected_;
      }
      next_ = now + gap(std::uint32_t(r));
    }
    return next_ < shape_->stop ? next_ : kNever;
  }
  std::uint64_t injected() const { return injected_; }
  // The output queue the next injection goes to (the random draw it will make, without making it).
  [[gnu::always_inline]] void prefetch(const hw::PeQueues& q) const {
    if (n_lanes_ > 0) __builtin_prefetch(&q.oq(oq_[lane_of(mix(state_ + kGolden))]));
  }

 private:
  int lane_of(std::uint64_t r) const { return n_lanes_ == 1 ? 0 : int(((r >> 32) * n_lanes_) >> 32); }
  // Geometric gap: P(gap > k) = (1 - rate)^k. Short gaps by comparing a uniform draw with the table of those
  // tail probabilities (no logarithm on the common path); beyond the table, by inversion with a fresh draw (the
  // distribution is memoryless).
  Cycle gap(std::uint32_t bits) {
    const Shape& s = *shape_;
    if (s.rate >= 1.0) return 1;
    const double v = 1.0 - double(bits) * 0x1.0p-32;  // uniform in (0, 1]
    for (std::size_t k = 0; k < s.n_tail; ++k)
      if (v > s.tail[k]) return 1 + k;
    const double w = 1.0 - double(next_random() >> 11) * 0x1.0p-53;
    return s.n_tail + 1 + static_cast<Cycle>(std::floor(std::log(w) / s.log_miss));
  }
  // splitmix64: cheap, deterministic, good enough for traffic generation.
  static constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15ull;
  std::uint64_t next_random() { return mix(state_ += kGolden); }
  static std::uint64_t mix(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  const Shape* shape_;
  std::uint64_t state_;
  Cycle next_ = 0;
  std::uint32_t injected_ = 0;  // also the payload of the next word
  std::uint8_t n_lanes_ = 0;
  std::array<std::uint8_t, 4> oq_{};
  std::array<hw::Color, 4> color_{};
};

class alignas(64) Traffic::Sink : public hw::PeAgent {
 public:
  Cycle step(Cycle now, hw::PeQueues& q) override { return consume(now, q, received_); }
  bool busy() const override { return false; }
  bool isolated() const override { return true; }
  std::uint64_t received() const { return received_; }

 private:
  std::uint64_t received_ = 0;
};

class alignas(64) Traffic::Source : public fabric::PrefetchingAgent {
 public:
  explicit Source(const Generator& g) : gen_(g) {}
  Cycle step(Cycle now, hw::PeQueues& q) override { return gen_.produce(now, q); }
  void prefetch(const hw::PeQueues& q) const override { gen_.prefetch(q); }
  bool busy() const override { return false; }  // open-loop traffic: the run length decides
  bool isolated() const override { return true; }
  std::uint64_t injected() const { return gen_.injected(); }

 private:
  Generator gen_;
};

// Uniform pattern: every PE is a source and a sink (the sink pops after the source pushed).
class alignas(64) Traffic::SourceSink : public fabric::PrefetchingAgent {
 public:
  explicit SourceSink(const Generator& g) : gen_(g) {}
  Cycle step(Cycle now, hw::PeQueues& q) override {
    const Cycle a = gen_.produce(now, q);
    return std::min(a, consume(now, q, received_));
  }
  void prefetch(const hw::PeQueues& q) const override { gen_.prefetch(q); }
  bool busy() const override { return false; }
  bool isolated() const override { return true; }
  std::uint64_t injected() const { return gen_.injected(); }
  std::uint64_t received() const { return received_; }

 private:
  Generator gen_;
  std::uint64_t received_ = 0;
};
// sizeof(SourceSink) == 64: one cache line per uniform-traffic PE (checked in Traffic::Traffic).

Traffic::Traffic(Fabric& fabric, const TrafficConfig& cfg) {
  const int W = fabric.width(), H = fabric.height();
  if (cfg.pattern == "none") return;
  // Agents sit in PE order in three arrays (reserved up front: the fabric keeps pointers to them).
  if (cfg.pattern == "row-broadcast") {
    shape_ = std::make_unique<Shape>(1.0, cfg.cycles);
    sources_.reserve(std::size_t(H));
    sinks_.reserve(std::size_t(W) * H);
    colors_used_ = 1;
    for (int y = 0; y < H; ++y) {
      for (int x = 0; x < W; ++x) {
        hw::ColorConfig c;
        c.rx = x == 0 ? bit(Dir::Ramp) : bit(Dir::West);
        c.tx = (x + 1 < W ? bit(Dir::East) : 0) | (x > 0 || W == 1 ? bit(Dir::Ramp) : 0);
        fabric.set_color_config(x, y, 0, c);
        if (x == 0 && W > 1) {
          sources_.emplace_back(Generator({{2, 0}}, *shape_, cfg.seed + y));
          fabric.attach_agent(x, y, &sources_.back());
          continue;
        }
        fabric.queues(x, y).bind_input_queue(2, 0);
        sinks_.emplace_back();
        fabric.attach_agent(x, y, &sinks_.back());
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
  shape_ = std::make_unique<Shape>(cfg.rate, cfg.cycles);
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
  // One agent per PE, source and sink in one.
  static_assert(sizeof(SourceSink) == 64);
  std::mt19937_64 seeder(cfg.seed);
  both_.reserve(std::size_t(W) * H);
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) {
      both_.emplace_back(Generator(lanes[fabric.index(x, y)], *shape_, seeder()));
      fabric.attach_agent(x, y, &both_.back());
    }
  }
}

Traffic::~Traffic() = default;

std::uint64_t Traffic::injected() const {
  std::uint64_t n = 0;
  for (const auto& s : sources_) n += s.injected();
  for (const auto& s : both_) n += s.injected();
  return n;
}

std::uint64_t Traffic::delivered() const {
  std::uint64_t n = 0;
  for (const auto& s : sinks_) n += s.received();
  for (const auto& s : both_) n += s.received();
  return n;
}

}  // namespace wafersim::bench
