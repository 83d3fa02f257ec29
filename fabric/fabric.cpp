#include "fabric/fabric.hpp"

#include <algorithm>
#include <chrono>
#include <atomic>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <queue>
#include <sstream>
#include <thread>

#include "common/error.hpp"
#include "common/huge_pages.hpp"

namespace wafersim::fabric {

using hw::bit;
using hw::Dir;
using hw::DirMask;
using hw::kNever;
using hw::Router;
using hw::Wavelet;

namespace {
constexpr int kPorts = hw::kNumPorts;
constexpr int kRamp = static_cast<int>(Dir::Ramp);
constexpr int kHugePagesMinPes = 128 * 128;

std::string pe_name(int x, int y) { return "PE(" + std::to_string(x) + "," + std::to_string(y) + ")"; }
}  // namespace

struct Fabric::Impl {
  struct Delivery {
    Cycle at;
    int pe;
    Wavelet w;
  };
  struct Free {
    int pe;
    Color c;
  };
  struct Wake {
    Cycle at;
    int pe;
    bool operator>(const Wake& o) const { return at != o.at ? at > o.at : pe > o.pe; }
  };

  // What one band (or boundary) of the router phase produced. Lanes are merged in lane order, which is PE order,
  // so the outcome of a cycle does not depend on how many host threads evaluated it.
  struct Lane {
    std::vector<Free> frees;          // data wavelets done: slots released during the sweep when safe, else after
    std::vector<Free> late_frees;     // data frees of routers next to a boundary: released after the phase
    std::vector<Free> control_frees;  // control wavelets (they move switches): after the phase, in PE order
    std::vector<Delivery> deliveries;
    std::vector<int> wakes;           // agents to wake: the router took a word from a full output queue
    std::vector<int> activated;       // routers to evaluate next cycle
    std::uint64_t hops = 0, stalls = 0, injections = 0, filtered = 0, evaluated = 0;
    std::array<std::uint64_t, hw::kMaxColors> color_hops{}, color_stalls{};
    Cycle earliest_ready = kNever;    // earliest head not yet ready
    bool any_ready = false;           // some head was ready (moved or stalled)
    bool progress = false;
    std::size_t free_head = 0;
    // Sends and stalls at traced routers, handed to the LinkObserver after the phase in lane (PE) order.
    struct TraceEvent {
      int pe;
      Dir out;
      bool stall;
      Wavelet w;  // for a stall only the colour
    };
    std::vector<TraceEvent> trace;
    std::vector<Wake> schedules;      // agent phase: next steps the agents stepped by this lane asked for
    std::uint64_t steps = 0;          // agent phase: agents stepped
    bool queue_events = false;        // agent phase: an agent pushed or popped a queue word
    std::uint64_t delivered = 0;      // cycle blocks: RAMP deliveries that reached their input queues
    bool any_free = false;            // cycle blocks: some wavelet left its router for good
    Cycle now = 0;                    // the cycle this lane simulates

    void add_to(Stats& s) const {  // the router phase's counters
      s.router_cycles += evaluated;
      s.wavelet_hops += hops;
      s.stall_cycles += stalls;
      s.ramp_injections += injections;
      s.filtered += filtered;
      for (int c = 0; c < hw::kMaxColors; ++c) {
        s.color_hops[c] += color_hops[c];
        s.color_stalls[c] += color_stalls[c];
      }
    }
    void reset(Cycle cycle) {  // keeps the vectors' capacity
      now = cycle;
      frees.clear();
      late_frees.clear();
      control_frees.clear();
      deliveries.clear();
      wakes.clear();  // `activated` is emptied by collect_active
      trace.clear();
      schedules.clear();
      hops = stalls = injections = filtered = evaluated = steps = delivered = 0;
      color_hops.fill(0);
      color_stalls.fill(0);
      earliest_ready = kNever;
      any_ready = progress = queue_events = any_free = false;
      free_head = 0;
    }
  };
  // A band of rows evaluated by one thread: routers active[eval_begin, eval_end) are evaluated in PE order,
  // routers active[inject_begin, inject_end) take a wavelet from their output queues first (each before any
  // neighbour sends into it), and data frees of PEs in [free_lo, free_hi) may be released during the sweep.
  struct Band {
    std::size_t eval_begin = 0, eval_end = 0, inject_begin = 0, inject_end = 0;
    int free_lo = 0, free_hi = 0;
    int pe_lo = 0;  // first PE of the rows it injects at; its agents' range starts here (rounded down to 64)
  };

  // Host threads for the router phase: band 0 runs on the calling thread, band i on worker i-1. Workers spin
  // briefly between cycles, then sleep on the generation counter.
  class Pool {
   public:
    explicit Pool(int workers) {
      // Spinning only pays when every thread has a core; oversubscribed workers sleep almost at once.
      spin_limit_ = unsigned(workers) < std::max(1u, std::thread::hardware_concurrency()) ? 1 << 16 : 16;
      busy_.assign(workers + 1, 0.0);
      for (int i = 0; i < workers; ++i) threads_.emplace_back([this, i] { work(i + 1); });
    }
    ~Pool() {
      stop_ = true;
      gen_.fetch_add(1, std::memory_order_release);
      gen_.notify_all();
      for (auto& t : threads_) t.join();
    }
    int workers() const { return int(threads_.size()); }
    // Seconds each thread spent in jobs since the last call (index 0: the calling thread).
    std::vector<double> take_busy() {
      std::vector<double> b = busy_;
      std::fill(busy_.begin(), busy_.end(), 0.0);
      return b;
    }
    // Runs job(1..workers) on the workers and job(0) here; returns when all are done, rethrowing the first
    // exception any of them threw (lowest index first).
    void run(const std::function<void(int)>& job) {
      job_ = &job;
      errors_.assign(threads_.size() + 1, nullptr);
      pending_.store(int(threads_.size()), std::memory_order_relaxed);
      gen_.fetch_add(1, std::memory_order_release);
      gen_.notify_all();
      guarded(0);
      for (int spins = 0; pending_.load(std::memory_order_acquire) != 0;) {
        if (++spins < spin_limit_) pause();
        else std::this_thread::yield();
      }
      for (const auto& e : errors_)
        if (e) std::rethrow_exception(e);
    }

   private:
    static void pause() {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    void work(int index) {
      std::uint64_t seen = 0;
      while (true) {
        std::uint64_t g;
        for (int spins = 0; (g = gen_.load(std::memory_order_acquire)) == seen;) {
          if (++spins < spin_limit_) pause();
          else gen_.wait(seen, std::memory_order_acquire);
        }
        seen = g;
        if (stop_) return;
        guarded(index);
        pending_.fetch_sub(1, std::memory_order_release);
      }
    }
    void guarded(int index) {
      const auto start = std::chrono::steady_clock::now();
      try {
        (*job_)(index);
      } catch (...) {
        errors_[index] = std::current_exception();
      }
      busy_[index] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    const std::function<void(int)>* job_ = nullptr;
    int spin_limit_ = 1 << 16;
    std::vector<std::exception_ptr> errors_;
    std::vector<double> busy_;
    std::vector<std::thread> threads_;
    std::atomic<std::uint64_t> gen_{0};
    std::atomic<int> pending_{0};
    std::atomic<bool> stop_{false};
  };

  std::vector<int> active, next_active;
  std::vector<std::uint8_t> in_active;
  // Wavelets crossing the ramp into input queues, in arrival order: the ramp latency is constant, so the list is
  // sorted by time, and the wavelets arriving in one cycle left their routers in one cycle, in PE order.
  std::vector<Delivery> deliveries;
  std::size_t delivery_head = 0;  // deliveries before it have arrived (or arrive in the cycle being simulated)
  bool has_deliveries() const { return delivery_head < deliveries.size(); }
  Cycle next_delivery() const { return deliveries[delivery_head].at; }
  // Free words of each input queue that no wavelet crossing the ramp has claimed yet (capacity - size - wavelets
  // on their way): the router's room check for the RAMP reads this dense array instead of the queue.
  std::vector<std::array<std::uint8_t, hw::PeQueues::kMaxQueues>> iq_room;
  std::vector<Lane> lanes;   // band 0, boundary 1, band 1, boundary 2, ... (PE order)
  std::vector<Band> bands;   // lanes[2i] evaluates bands[i]
  // Fraction of the active routers each band gets, adapted to how long each thread took last cycle (threads run
  // at different speeds on a shared host). Any split gives the same result, so this only moves work around.
  std::vector<double> band_share;
  std::vector<std::pair<std::size_t, std::size_t>> boundary_ranges;  // lanes[2i+1]: active[first, second)
  std::unique_ptr<Pool> pool;
  Cycle cycle_now = 0, hop_ready = 0, router_ready = 0, ramp = 0;  // of the cycle being simulated
  std::array<int, kPorts> neighbour_offset{};  // PE index step out of each port (N, S, E, W; RAMP 0)
  // Agent wake-ups: a timing wheel for the near future (almost all of them), a heap beyond it. Entries whose
  // cycle no longer matches next_wake[pe] are stale and skipped.
  static constexpr Cycle kWheel = 1024;
  std::vector<std::vector<int>> wheel = std::vector<std::vector<int>>(kWheel);
  std::size_t wheel_entries = 0;
  std::priority_queue<Wake, std::vector<Wake>, std::greater<Wake>> far_wakes;

  void schedule(int pe, Cycle at) {
    if (at - horizon < kWheel) {
      wheel[at % kWheel].push_back(pe);
      ++wheel_entries;
    } else {
      far_wakes.push({at, pe});
    }
  }
  // Wake-ups due before now + kWheel move from the heap into the wheel; wheel slots count from `now`.
  void load_far_wakes(Cycle now) {
    horizon = now;
    while (!far_wakes.empty() && far_wakes.top().at < now + kWheel) {
      const Wake wk = far_wakes.top();
      far_wakes.pop();
      wheel[wk.at % kWheel].push_back(wk.pe);
      ++wheel_entries;
    }
  }
  void compact_deliveries() {  // drops the delivered head of the list once it is most of it
    if (delivery_head >= 4096 && 2 * delivery_head >= deliveries.size()) {
      deliveries.erase(deliveries.begin(), deliveries.begin() + std::ptrdiff_t(delivery_head));
      delivery_head = 0;
    }
  }
  // Earliest cycle >= horizon with a (possibly stale) wake-up, or kNever.
  Cycle earliest_wake() const {
    Cycle t = far_wakes.empty() ? kNever : far_wakes.top().at;
    if (wheel_entries > 0) {
      for (Cycle c = horizon; c < horizon + kWheel && c < t; ++c)
        if (!wheel[c % kWheel].empty()) return c;
    }
    return t;
  }
  bool has_wakes() const { return wheel_entries > 0 || !far_wakes.empty(); }
  std::vector<Cycle> next_wake;
  std::vector<int> agent_pes;
  Cycle last_progress = 0;
  Cycle stuck_since = 0;  // last progress before the watchdog fired (for the report)
  Cycle horizon = 0;  // first cycle not simulated yet
  Cycle earliest_ready = kNever;  // earliest head not yet ready among routers evaluated this cycle
  bool any_ready = false;         // some head was ready this cycle (moved or stalled)
  bool frozen = false;            // the last simulated cycle moved nothing: only timed events can change that
  bool in_agent_phase = false;
  bool validated = false;
  LinkObserver* observer = nullptr;
  std::vector<std::uint8_t> traced;

  // Router pe is evaluated next cycle; `into` is next_active or, in the router and agent phases, a lane's list.
  void activate(int pe, std::vector<int>& into) {
    if (!in_active[pe]) {
      in_active[pe] = 1;
      into.push_back(pe);
    }
  }

  static thread_local Lane* tls_lane;  // set while a host thread steps isolated agents
  struct LaneScope {
    explicit LaneScope(Lane* lane) { tls_lane = lane; }
    ~LaneScope() { tls_lane = nullptr; }
    LaneScope(const LaneScope&) = delete;
    LaneScope& operator=(const LaneScope&) = delete;
  };
  int shared_agents = 0;                // attached agents that are not isolated (hw::PeAgent::isolated)
  std::vector<std::uint8_t> agent_shared;
  std::size_t due_begin = 0, due_deliveries = 0;  // deliveries[due_begin, + due_deliveries) arrive this cycle
  std::vector<int> delivery_wakes, inject_wakes;  // compute engines a delivery / an injection woke
  // Isolated agents due this cycle: a bit per PE, and a bit per word of those bits that has any set (so a pass
  // over a large mesh with few agents due skips the empty words).
  std::vector<std::uint64_t> due_bits, due_words;
  void mark_due(int pe) {
    due_bits[pe >> 6] |= std::uint64_t(1) << (pe & 63);
    due_words[pe >> 12] |= std::uint64_t(1) << ((pe >> 6) & 63);
  }
  // First word of due_bits at or after w (below w_end) that mark_due() touched, or w_end.
  int next_due_word(int w, int w_end) const {
    for (int s = w >> 6; s << 6 < w_end; ++s) {
      const std::uint64_t m = due_words[s] & (s == w >> 6 ? ~std::uint64_t(0) << (w & 63) : ~std::uint64_t(0));
      if (m) return std::min((s << 6) + __builtin_ctzll(m), w_end);
    }
    return w_end;
  }
  Cycle ready_base = 0;            // cycle of the last hw::Router::refresh_ready

  // Cycle blocks (Fabric::step_block): cycles t0 .. t0+k-1 in one upward sweep over the rows, cycle j two rows
  // behind cycle j-1. A row's stages in cycle j: inject (collects its active routers and takes output-queue words;
  // before any neighbour sends into it), evaluate, finish (release the slots freed in cycle j, move switches, RAMP
  // deliveries, agents). Finishing row r needs rows r-1..r+1 evaluated; injecting or evaluating row r in cycle j+1
  // needs rows r-1..r+1 finished in cycle j: with the 2-row lag every stage finds its inputs ready, and the result
  // is that of k single cycles (only isolated agents, which touch their own PE, may run out of cycle order).
  struct RowRange {
    int lo = 0, hi = -1;  // inclusive
    bool has(int r) const { return r >= lo && r <= hi; }
  };
  // The part of a block one host thread sweeps: per cycle j, the rows it injects, evaluates and finishes.
  struct Region {
    int lane = 0;
    std::vector<RowRange> inject, eval, finish;
  };
  int block_k = 0;
  Cycle block_t0 = 0;
  std::vector<std::vector<Lane>> block_lanes;                   // [j][lane], lanes in PE order as for `lanes`
  std::vector<Region> block_regions;                            // bands, then the boundaries between them
  std::vector<std::vector<int>> row_active;                     // per row: routers evaluated in its current cycle
  std::vector<std::vector<Free>> row_frees, row_control_frees;  // per row: slots freed in its current cycle
  std::vector<std::vector<std::vector<Delivery>>> row_deliveries;  // [j][row]: sent to the RAMP in cycle j
  std::vector<std::pair<std::size_t, std::size_t>> block_due;   // [j < ramp]: deliveries[] arriving in cycle j
  std::vector<std::vector<std::uint64_t>> block_due_bits;       // [j]: agents due, row_words words per row
  int row_words = 0;
  void mark_block_due(int width, int j, int pe) {
    const int y = pe / width, x = pe - y * width;
    block_due_bits[j][std::size_t(y) * row_words + (x >> 6)] |= std::uint64_t(1) << (x & 63);
  }
  int block_length(const Fabric& f, Cycle t, Cycle last) const;
  void plan_block(const Fabric& f, int threads);
  void block_region(Fabric& f, const Region& reg);
  void block_inject(Fabric& f, Lane& lane, int j, int row);
  void block_evaluate(Fabric& f, Lane& lane, int j, int row);
  void block_finish(Fabric& f, Lane& lane, int j, int row);

  // Routers activated for the next cycle: by agents and the host (next_active) and by the router phase (lanes).
  std::size_t pending_activations() const {
    std::size_t n = next_active.size();
    for (const Lane& lane : lanes) n += lane.activated.size();
    return n;
  }
  void collect_active();
  // Appends the PEs in [lo, hi) whose active flag is set, in PE order (8 flags per load).
  void append_flagged(int lo, int hi, std::vector<int>& out) const {
    const std::uint8_t* flags = in_active.data();
    int i = lo;
    for (; i + 8 <= hi; i += 8) {
      std::uint64_t word;
      std::memcpy(&word, flags + i, 8);
      for (; word; word &= word - 1) out.push_back(i + (__builtin_ctzll(word) >> 3));
    }
    for (; i < hi; ++i)
      if (flags[i]) out.push_back(i);
  }
  // The wavelet reaches its input queue; true if it wakes the PE's agent (next_wake set to this cycle).
  bool deliver(Fabric& f, const Delivery& d, Cycle now) {
    hw::PeQueues& q = *f.queues_[d.pe];
    q.deliver(d.w);
    if (!f.agents_[d.pe] || next_wake[d.pe] <= now) return false;
    next_wake[d.pe] = now;
    return true;
  }
  template <class Schedule>
  std::uint64_t agent_pass(Fabric& f, int lo, int hi, Schedule&& schedule);
  void plan_bands(const Fabric& f, int threads);
  void sweep(Fabric& f, int lane);
  void inject(Fabric& f, Lane& lane, int pe);
  void evaluate(Fabric& f, Lane& lane, int pe);
  // Steps the agent at `pe` if its wake-up for `now` is still current (not stale, agent attached). A next step it
  // asks for is recorded in next_wake and handed to schedule(pe, at): the wheel, or a lane on a host thread.
  template <class Schedule>
  bool step_agent(Fabric& f, int pe, Cycle now, Schedule&& schedule) {
    if (next_wake[pe] != now) return false;  // stale: superseded by an earlier wake-up already served
    next_wake[pe] = kNever;
    hw::PeAgent* agent = f.agents_[pe];
    if (!agent) return false;
    const Cycle nxt = agent->step(now, *f.queues_[pe]);
    if (nxt != kNever) {
      const Cycle at = std::max(nxt, now + 1);  // > now
      if (next_wake[pe] > at) {
        next_wake[pe] = at;
        schedule(pe, at);
      }
    }
    return true;
  }
  // The colour states of the wavelets buffered at a router evaluated a little later. (The prefetch helpers are
  // always inlined: GCC's pure-function analysis sees no side effect in a prefetch and drops calls it did not
  // inline.)
  [[gnu::always_inline]] static void prefetch_colors(const Router& r) {
    for (std::uint32_t b = r.buffered_colors(); b; b &= b - 1)
      __builtin_prefetch(&r.state_at(r.slot_of(static_cast<Color>(__builtin_ctz(b)))));
  }
  // Injections list[i..end) come next: the queues of the routers a few ahead, their head word, then the state of
  // that word's colour.
  [[gnu::always_inline]] static void prefetch_injection(const Fabric& f, const int* list, std::size_t i,
                                                        std::size_t end) {
    if (i + 6 < end) __builtin_prefetch(f.queues_[list[i + 6]].get());
    if (i + 3 < end)
      if (const hw::PeQueues* qa = f.queues_[list[i + 3]].get(); qa && qa->output_nonempty_mask())
        __builtin_prefetch(&qa->oq(__builtin_ctz(qa->output_nonempty_mask())));
    if (i + 1 < end)
      if (const hw::PeQueues* qa = f.queues_[list[i + 1]].get(); qa && qa->output_nonempty_mask()) {
        const Router& ri = f.routers_[list[i + 1]];
        const int s = ri.slot_of(qa->oq(__builtin_ctz(qa->output_nonempty_mask())).front().color);
        if (s >= 0) __builtin_prefetch(&ri.state_at(s));
      }
  }
  // The PEs [base, base+64) in the agent phase: the wavelets [d, d_end) below base+64 enter their input queues (d
  // moves past them), then the agents due (`bits`, and those a delivery woke) step in PE order. Returns the number
  // of agents stepped.
  template <class Schedule>
  std::uint64_t step_word(Fabric& f, int base, std::uint64_t bits, const Delivery*& d, const Delivery* d_end,
                          Cycle now, Schedule&& schedule) {
    for (; d != d_end && d->pe < base + 64; ++d) {
      // The queues' counters a little ahead, then the input queue the wavelet goes to (bound, or it would not
      // have left its router).
      if (d + 16 < d_end) __builtin_prefetch(f.queues_[d[16].pe].get());
      if (d + 8 < d_end) {
        const hw::PeQueues& qn = *f.queues_[d[8].pe];
        if (const int iq = qn.input_queue_of(d[8].w.color); iq != hw::kUnbound) __builtin_prefetch(&qn.iq(iq));
      }
      if (deliver(f, *d, now)) bits |= std::uint64_t(1) << (d->pe - base);
    }
    std::uint64_t steps = 0;
    for (; bits; bits &= bits - 1) {
      const int pe = base + __builtin_ctzll(bits);
      if (const std::uint64_t rest = bits & (bits - 1)) {
        // The next due agent (fetched one step ago) starts fetching what it will touch; the one after it, its
        // object and queue counters.
        const int nxt = base + __builtin_ctzll(rest);
        if (const hw::PeAgent* a = f.agents_[nxt]) a->prefetch(*f.queues_[nxt]);
        if (const std::uint64_t rest2 = rest & (rest - 1)) {
          const int nxt2 = base + __builtin_ctzll(rest2);
          __builtin_prefetch(f.agents_[nxt2]);
          __builtin_prefetch(f.queues_[nxt2].get());
        }
      }
      steps += step_agent(f, pe, now, schedule);
    }
    return steps;
  }
  // Agents are scattered over the heap: fetched a few steps ahead.
  [[gnu::always_inline]] void prefetch_agent(const Fabric& f, const std::vector<int>& list, std::size_t i) const {
    if (i + 4 < list.size()) __builtin_prefetch(f.agents_[list[i + 4]]);
  }
  // Host threads `threads` for `n_bands` bands: band 0 on the calling thread, the others on the pool's workers.
  void ensure_pool(int threads, int n_bands) {
    if (!pool || pool->workers() + 1 < n_bands) pool = std::make_unique<Pool>(threads - 1);
  }
  // After a step run in `n_bands` bands: give each band a share of the rows in proportion to its thread's speed.
  void adapt_band_shares(int n_bands);
  void release(Fabric& f, const Free& fr) {
    Router& r = f.routers_[fr.pe];
    r.pop_front(r.state_at(r.slot_of(fr.c)));
  }
};

thread_local Fabric::Impl::Lane* Fabric::Impl::tls_lane = nullptr;

Fabric::Fabric(const hw::ArchParams& arch, int width, int height, DataMode mode)
    : arch_(arch), width_(width), height_(height), mode_(mode), impl_(std::make_unique<Impl>()) {
  if (width < 1 || height < 1)
    throw ConfigError("mesh " + std::to_string(width) + "x" + std::to_string(height) +
                      ": width and height must be at least 1");
  if (width > arch.fabric.width || height > arch.fabric.height)
    throw ConfigError("mesh " + std::to_string(width) + "x" + std::to_string(height) + " does not fit the " +
                      arch.name + " fabric of " + std::to_string(arch.fabric.width) + "x" +
                      std::to_string(arch.fabric.height) + " PEs");
  const std::size_t n = std::size_t(width) * height;
  routers_.resize(n);
  for (auto& r : routers_) r.set_depth(arch.router.color_buffer_depth);
  queues_.resize(n);
  srams_.resize(n);
  agents_.assign(n, nullptr);
  impl_->in_active.assign(n, 0);
  impl_->iq_room.assign(n, {});
  impl_->next_wake.assign(n, kNever);
  impl_->due_bits.assign((n + 63) / 64, 0);
  impl_->due_words.assign((n + 4095) / 4096, 0);
  impl_->agent_shared.assign(n, 0);
  static_assert(int(Dir::North) == 0 && int(Dir::South) == 1 && int(Dir::East) == 2 && int(Dir::West) == 3);
  impl_->neighbour_offset = {-width, width, 1, -1, 0};
}

Fabric::~Fabric() = default;

void Fabric::set_color_config(int x, int y, Color c, const hw::ColorConfig& cfg) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_)
    throw ConfigError(pe_name(x, y) + " is outside the " + std::to_string(width_) + "x" + std::to_string(height_) +
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
  routers_[index(x, y)].set_color_config(c, cfg);
  impl_->validated = false;
}

const hw::ColorConfig& Fabric::color_config(int x, int y, Color c) const {
  static const hw::ColorConfig none;
  const hw::ColorConfig* cfg = routers_[index(x, y)].color_config(c);
  return cfg ? *cfg : none;
}

void Fabric::validate_routes() const {
  auto neighbour = [&](int x, int y, Dir d, int& nx, int& ny) {
    nx = x + (d == Dir::East) - (d == Dir::West);
    ny = y + (d == Dir::South) - (d == Dir::North);
    return nx >= 0 && ny >= 0 && nx < width_ && ny < height_;
  };
  for (int y = 0; y < height_; ++y) {
    for (int x = 0; x < width_; ++x) {
      const Router& router = routers_[index(x, y)];
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
                              std::to_string(width_) + "x" + std::to_string(height_) + " mesh");
          const hw::ColorConfig* ncfg = routers_[index(nx, ny)].color_config(cs.color);
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
            const hw::ColorConfig* ncfg = routers_[index(nx, ny)].color_config(cs.color);
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

void Fabric::exit_teardown(int x, int y, Color c) {
  routers_[index(x, y)].exit_teardown(c);
  impl_->activate(index(x, y), impl_->next_active);
  impl_->any_ready = true;
  impl_->frozen = false;
}

hw::PeQueues& Fabric::queues(int x, int y) {
  auto& q = queues_[index(x, y)];
  if (!q) {
    q = std::make_unique<hw::PeQueues>(index(x, y), arch_.queues.input_depths, arch_.queues.output_depths,
                                       static_cast<hw::QueueListener*>(this));
    for (int i = 0; i < q->num_input_queues(); ++i) impl_->iq_room[index(x, y)][i] = std::uint8_t(q->iq(i).capacity());
  }
  return *q;
}

hw::Sram& Fabric::sram(int x, int y) {
  auto& s = srams_[index(x, y)];
  if (!s) s = std::make_unique<hw::Sram>(arch_.pe.sram_bytes, arch_.pe.code_reserve_bytes, mode_ == DataMode::Functional);
  return *s;
}

void Fabric::attach_agent(int x, int y, hw::PeAgent* agent, Cycle start) {
  const int pe = index(x, y);
  if (!agents_[pe]) impl_->agent_pes.push_back(pe);
  const bool shared = agent && !agent->isolated();
  impl_->shared_agents += int(shared) - int(impl_->agent_shared[pe]);
  impl_->agent_shared[pe] = shared;
  agents_[pe] = agent;
  queues(x, y);
  wake(pe, start);
}

void Fabric::wake(int pe, Cycle at) {
  Impl& m = *impl_;
  if (Impl::tls_lane) throw std::logic_error("Fabric::wake called by an isolated agent (see hw::PeAgent::isolated)");
  if (m.in_agent_phase && at <= now_) at = now_ + 1;
  at = std::max(at, m.horizon);
  if (m.next_wake[pe] <= at) return;  // an earlier step is already due; the agent re-evaluates then
  m.next_wake[pe] = at;
  m.schedule(pe, at);
}

// Queue events come from agents (after the router phase): the router must look again next cycle.
void Fabric::on_input_popped(int pe, int q) {
  ++impl_->iq_room[pe][q];
  on_output_pushed(pe);
}
Cycle Fabric::queue_clock() const { return Impl::tls_lane ? Impl::tls_lane->now : now_; }
void Fabric::on_output_pushed(int pe) {
  if (Impl::Lane* lane = Impl::tls_lane) {  // an isolated agent stepping on a host thread
    impl_->activate(pe, lane->activated);
    lane->queue_events = true;
    return;
  }
  impl_->activate(pe, impl_->next_active);
  impl_->any_ready = true;
  impl_->frozen = false;
}

void Fabric::set_observer(LinkObserver* obs, const std::vector<int>& traced_pes) {
  impl_->observer = obs;
  impl_->traced.assign(routers_.size(), 0);
  for (int pe : traced_pes) impl_->traced.at(pe) = 1;
}

Cycle Fabric::next_event() const {
  const Impl& m = *impl_;
  Cycle t = kNever;
  if (m.pending_activations() > 0) {
    if (m.any_ready && !m.frozen) t = m.horizon;
    else if (m.earliest_ready != kNever) t = std::max(m.earliest_ready, m.horizon);
  }
  if (m.has_deliveries()) t = std::min(t, std::max(m.next_delivery(), m.horizon));
  if (m.has_wakes()) t = std::min(t, std::max(m.earliest_wake(), m.horizon));
  return t;
}

bool Fabric::idle() const {
  const Impl& m = *impl_;
  if (m.pending_activations() > 0 || m.has_deliveries() || m.has_wakes()) return false;
  for (int pe : m.agent_pes)
    if (agents_[pe]->busy()) return false;
  return true;
}

// The routers to evaluate this cycle, in PE order (memory order): on large meshes the sweep then streams through
// the router, queue and colour arrays instead of chasing a scrambled activation order.
void Fabric::Impl::collect_active() {
  if (pending_activations() * 16 > in_active.size()) {
    active.clear();  // dense: rebuild the list from the flags
    append_flagged(0, int(in_active.size()), active);
  } else {
    active.swap(next_active);
    for (Lane& lane : lanes) active.insert(active.end(), lane.activated.begin(), lane.activated.end());
    std::sort(active.begin(), active.end());
  }
  next_active.clear();
  for (Lane& lane : lanes) lane.activated.clear();
  for (int pe : active) in_active[pe] = 0;
}

// Splits the active routers into `threads` bands of rows with about as many routers each. Between two bands,
// two boundary rows (s-1, s) are evaluated after the bands: a router reads and writes only itself and its four
// neighbours, so the band below (rows < s-1) and the band above (rows > s) touch disjoint rows and can run at
// once. Within a cycle the outcome does not depend on the evaluation order (sends only add to a neighbour's
// buffer, a colour has one possible sender per router, output-queue injections precede every send into their
// router, frees come after the phase), so any banding gives the result of the plain PE-order sweep.
void Fabric::Impl::plan_bands(const Fabric& f, int threads) {
  const int width = f.width_, height = f.height_;
  const std::size_t n = active.size();
  std::vector<int> splits;  // boundary rows s: rows s-1 and s are evaluated after the bands
  if (band_share.size() != std::size_t(threads)) band_share.assign(threads, 1.0 / threads);
  double cumulative = 0;
  for (int i = 1; i < threads; ++i) {
    cumulative += band_share[i - 1];
    int s = active[std::min(n - 1, std::size_t(double(n) * cumulative))] / width;
    s = std::max(s, splits.empty() ? 1 : splits.back() + 3);  // keeps every band at least one row high
    if (s >= height - 1) break;
    splits.push_back(s);
  }
  const int nb = int(splits.size()) + 1;
  bands.assign(nb, Band{});
  if (lanes.size() < std::size_t(2 * nb - 1)) lanes.resize(2 * nb - 1);
  auto first_at_or_after = [&](int row) {
    return std::size_t(std::lower_bound(active.begin(), active.end(), row * width) - active.begin());
  };
  for (int b = 0; b < nb; ++b) {
    Band& band = bands[b];
    const int lo = b == 0 ? 0 : splits[b - 1] + 1;          // first row evaluated
    const int hi = b == nb - 1 ? height : splits[b] - 1;    // first row not evaluated
    const int inj_lo = b == 0 ? 0 : splits[b - 1];          // own rows + the boundary rows this band touches
    const int inj_hi = b == nb - 1 ? height : splits[b];
    band.eval_begin = first_at_or_after(lo);
    band.eval_end = first_at_or_after(hi);
    band.inject_begin = first_at_or_after(inj_lo);
    band.inject_end = first_at_or_after(inj_hi);
    band.pe_lo = inj_lo * width;
    band.free_lo = (b == 0 ? 0 : lo + 1) * width;           // rows next to a boundary keep their frees
    band.free_hi = (b == nb - 1 ? height : hi - 1) * width;
  }
  // Boundary lanes (odd) evaluate rows s-1 and s of their split: no injections, no early frees.
  boundary_ranges.resize(splits.size());
  for (std::size_t i = 0; i < splits.size(); ++i)
    boundary_ranges[i] = {first_at_or_after(splits[i] - 1), first_at_or_after(splits[i] + 1)};
}

void Fabric::Impl::adapt_band_shares(int n_bands) {
  if (!pool) return;
  const std::vector<double> busy = pool->take_busy();
  if (n_bands < 2 || std::size_t(n_bands) != band_share.size()) return;
  const std::size_t nb = band_share.size();
  double total = 0, rate_sum = 0;
  std::vector<double> rate(nb);
  for (std::size_t b = 0; b < nb; ++b) total += busy[b];
  if (total <= 0) return;
  for (std::size_t b = 0; b < nb; ++b) rate_sum += rate[b] = band_share[b] / std::max(busy[b], total * 1e-3);
  double sum = 0;
  for (std::size_t b = 0; b < nb; ++b)
    sum += band_share[b] = std::clamp(0.5 * band_share[b] + 0.5 * rate[b] / rate_sum, 0.2 / double(nb), 1.0);
  for (double& x : band_share) x /= sum;
}

void Fabric::Impl::sweep(Fabric& f, int li) {
  Lane& lane = lanes[li];
  const bool boundary = li % 2 == 1;
  std::size_t begin, end, inj = 0, inj_end = 0;
  int free_lo = 0, free_hi = 0;
  if (boundary) {
    begin = boundary_ranges[li / 2].first;
    end = boundary_ranges[li / 2].second;
  } else {
    const Band& b = bands[li / 2];
    begin = b.eval_begin;
    end = b.eval_end;
    inj = b.inject_begin;
    inj_end = b.inject_end;
    free_lo = b.free_lo;
    free_hi = b.free_hi;
  }
  const int width = f.width_;
  Router* const routers = f.routers_.data();
  const int* const act = active.data();
  const std::size_t n_routers = f.routers_.size();
  for (std::size_t ai = begin; ai < end; ++ai) {
    const int pe = act[ai];
    // The active set is memory-bound on large meshes: fetch the routers evaluated later (far enough ahead to
    // cover a memory access when a router takes little work, as in a broadcast), and the queues of the routers
    // the injection cursor (a row ahead) reaches a little later.
    if (ai + 16 < end) __builtin_prefetch(&routers[act[ai + 16]]);
    if (ai + 8 < end) prefetch_colors(routers[act[ai + 8]]);
    // South neighbours are checked for room a row before their own evaluation. (Fetching the neighbours' colour
    // states as well cost more than it saved: slower at 64x64 and for broadcasts, 3% faster at 256x256 uniform.)
    if (std::size_t(pe + width + 16) < n_routers) __builtin_prefetch(&routers[pe + width + 16]);
    // The injection cursor runs a row ahead.
    if (inj < inj_end) prefetch_injection(f, act, inj, inj_end);
    // Output-queue injections of every router a neighbour of this one could send into, before that send.
    for (; inj < inj_end && act[inj] <= pe + width; ++inj) inject(f, lane, act[inj]);
    // Deferred frees of data wavelets: a router more than one row behind is never touched again this cycle, so
    // its freed slots can be released now, while its state is still in cache; the result is the same as
    // releasing them after the phase. Routers next to a boundary row wait (the boundary is evaluated later).
    for (; lane.free_head < lane.frees.size() && lane.frees[lane.free_head].pe + width < pe; ++lane.free_head) {
      const Free& fr = lane.frees[lane.free_head];
      if (fr.pe >= free_lo && fr.pe < free_hi) release(f, fr);
      else lane.late_frees.push_back(fr);
    }
    evaluate(f, lane, pe);
  }
  for (; inj < inj_end; ++inj) inject(f, lane, act[inj]);
  lane.evaluated += end - begin;
}

// The isolated agents' phase for PEs [lo, hi) (lo a multiple of 64), in PE order: the wavelets due this cycle at a
// PE reach its input queues, then its agent steps if it is due (due_bits: the wheel, or the router took a word from
// a full output queue; or woken by one of these deliveries). Returns the number of agents stepped.
template <class Schedule>
std::uint64_t Fabric::Impl::agent_pass(Fabric& f, int lo, int hi, Schedule&& schedule) {
  const Cycle now = cycle_now;
  const Delivery* d = deliveries.data() + due_begin;
  const Delivery* const d_end = d + due_deliveries;
  d = std::lower_bound(d, d_end, lo, [](const Delivery& x, int pe) { return x.pe < pe; });
  std::uint64_t steps = 0;
  const int w_end = (hi + 63) >> 6;
  for (int w = lo >> 6;; ++w) {
    w = std::min(next_due_word(w, w_end), d != d_end ? d->pe >> 6 : w_end);
    if (w >= w_end) break;
    const int base = w << 6;
    const std::uint64_t bits = due_bits[w];
    due_bits[w] = 0;
    steps += step_word(f, base, bits, d, d_end, now, schedule);
  }
  return steps;
}

// How many cycles from t (at most up to `last`) the next step may simulate as one block: only as many as
// step_cycle() would simulate one after the other anyway, which is certain for a cycle with an agent wake-up or a
// RAMP delivery due (next_event() stops there, stuck() sees progress); only on a large (simulation.block_min_pes),
// busy and dense mesh (t is the next cycle, many routers active) whose agents are all isolated, and nobody
// observes the links cycle by cycle. (On a mesh whose state fits the host's caches, the boundary regions cost more
// than the sweep saves.)
int Fabric::Impl::block_length(const Fabric& f, Cycle t, Cycle last) const {
  const Cycle k = std::min<Cycle>(Cycle(f.arch_.simulation.cycle_block), last - t + 1);
  if (k < 2 || t != horizon || shared_agents > 0 || observer ||
      std::uint64_t(f.num_pes()) < f.arch_.simulation.block_min_pes)
    return 1;
  if (pending_activations() * 16 <= in_active.size()) return 1;
  std::size_t d = delivery_head;
  Cycle n = 1;
  for (; n < k; ++n) {
    while (d < deliveries.size() && deliveries[d].at < t + n) ++d;
    const bool delivery = d < deliveries.size() && deliveries[d].at == t + n;
    const bool wake = !wheel[(t + n) % kWheel].empty();  // (the heap holds only wake-ups >= t + kWheel - 1)
    if (!delivery && !wake) break;
  }
  return int(n);
}

// Bands of whole rows (at least 4k+4 high, so the boundary regions stay apart), as many as there are threads.
// Band b sweeps its rows but leaves, in cycle j, 2j+1 rows on each side of a split s to the boundary region of s
// (evaluated rows s-1-2j .. s+2j), which runs once both bands are done.
void Fabric::Impl::plan_block(const Fabric& f, int threads) {
  const int H = f.height_, k = block_k, min_rows = 4 * k + 4;
  threads = std::max(1, std::min(threads, H / min_rows));
  if (band_share.size() != std::size_t(threads)) band_share.assign(threads, 1.0 / threads);
  std::vector<int> splits;
  double cumulative = 0;
  for (int i = 1; i < threads; ++i) {
    cumulative += band_share[i - 1];
    const int s = std::max(int(double(H) * cumulative), (splits.empty() ? 0 : splits.back()) + min_rows);
    if (s > H - min_rows) break;
    splits.push_back(s);
  }
  const int nb = int(splits.size()) + 1;
  block_regions.assign(2 * nb - 1, Region{});
  const auto clip = [H](int lo, int hi) { return RowRange{std::max(lo, 0), std::min(hi, H - 1)}; };
  for (int b = 0; b < nb; ++b) {
    Region& reg = block_regions[b];
    reg.lane = 2 * b;
    for (int j = 0; j < k; ++j) {
      const bool below = b > 0, above = b < nb - 1;
      const int s0 = below ? splits[b - 1] : 0, s1 = above ? splits[b] : H;
      reg.inject.push_back(clip(below ? s0 + 2 * j : 0, above ? s1 - 1 - 2 * j : H - 1));
      reg.eval.push_back(clip(below ? s0 + 1 + 2 * j : 0, above ? s1 - 2 - 2 * j : H - 1));
      reg.finish.push_back(clip(below ? s0 + 2 + 2 * j : 0, above ? s1 - 3 - 2 * j : H - 1));
    }
  }
  for (int i = 0; i + 1 < nb; ++i) {
    Region& reg = block_regions[nb + i];
    reg.lane = 2 * i + 1;
    const int s = splits[i];
    for (int j = 0; j < k; ++j) {
      reg.inject.push_back(clip(s - 2 * j, s + 2 * j - 1));
      reg.eval.push_back(clip(s - 1 - 2 * j, s + 2 * j));
      reg.finish.push_back(clip(s - 2 - 2 * j, s + 1 + 2 * j));
    }
  }
}

// Streams a region upward: at step R, cycle j works on row R-2j (inject the row above it, evaluate it, finish the
// row below it), cycles in order.
void Fabric::Impl::block_region(Fabric& f, const Region& reg) {
  int r_lo = std::numeric_limits<int>::max(), r_hi = std::numeric_limits<int>::min();
  for (int j = 0; j < block_k; ++j) {
    for (const auto& [rr, shift] : {std::pair{reg.inject[j], -1}, std::pair{reg.eval[j], 0}, std::pair{reg.finish[j], 1}}) {
      if (rr.lo > rr.hi) continue;
      r_lo = std::min(r_lo, rr.lo + shift + 2 * j);
      r_hi = std::max(r_hi, rr.hi + shift + 2 * j);
    }
  }
  for (int R = r_lo; R <= r_hi; ++R) {
    for (int j = 0; j < block_k; ++j) {
      Lane& lane = block_lanes[j][reg.lane];
      const int row = R - 2 * j;
      if (reg.inject[j].has(row + 1)) block_inject(f, lane, j, row + 1);
      if (reg.eval[j].has(row)) block_evaluate(f, lane, j, row);
      if (reg.finish[j].has(row - 1)) block_finish(f, lane, j, row - 1);
    }
  }
}

// The row's routers activated for this cycle (in PE order; their flags are cleared, so activations from here on
// are for the next cycle), then their output-queue injections.
void Fabric::Impl::block_inject(Fabric& f, Lane& lane, int j, int row) {
  const int width = f.width_;
  std::vector<int>& list = row_active[row];
  list.clear();
  append_flagged(row * width, (row + 1) * width, list);
  std::memset(in_active.data() + std::size_t(row) * width, 0, std::size_t(width));
  const int* act = list.data();
  const Router* routers = f.routers_.data();
  for (std::size_t a = 0, n = list.size(); a < n; ++a) {
    // A row of injections back to back: fetched further ahead than in the sweep (router and queue counters, then
    // the head word, then its colour's state).
    if (a + 16 < n) {
      __builtin_prefetch(&routers[act[a + 16]]);
      __builtin_prefetch(f.queues_[act[a + 16]].get());
    }
    prefetch_injection(f, act + 2, a, n < 2 ? 0 : n - 2);  // its distances, two further
    inject(f, lane, act[a]);
  }
  for (int pe : lane.wakes) {
    if (next_wake[pe] <= lane.now) continue;  // due already
    next_wake[pe] = lane.now;
    mark_block_due(width, j, pe);
  }
  lane.wakes.clear();
}

void Fabric::Impl::block_evaluate(Fabric& f, Lane& lane, int j, int row) {
  const Router* routers = f.routers_.data();
  const std::vector<int>& list = row_active[row];
  const int* act = list.data();
  for (std::size_t a = 0, n = list.size(); a < n; ++a) {
    if (a + 16 < n) __builtin_prefetch(&routers[act[a + 16]]);
    if (a + 8 < n) prefetch_colors(routers[act[a + 8]]);
    // In the block's first cycle the neighbours' states are cold too: those the wavelets will be sent into.
    if (j == 0 && a + 4 < n) {
      const Router& ra = routers[act[a + 4]];
      for (std::uint32_t b = ra.buffered_colors(); b; b &= b - 1) {
        const Color c = static_cast<Color>(__builtin_ctz(b));
        for (DirMask tx = ra.state_at(ra.slot_of(c)).tx() & 0xf; tx; tx &= tx - 1) {
          const Router& nr = routers[act[a + 4] + neighbour_offset[__builtin_ctz(tx)]];
          if (const int s = nr.slot_of(c); s >= 0) __builtin_prefetch(&nr.state_at(s));
        }
      }
    }
    evaluate(f, lane, act[a]);
  }
  lane.evaluated += list.size();
  // The row's frees and RAMP sends of this cycle, kept per row (the lists taken over are empty).
  std::swap(lane.frees, row_frees[row]);
  std::swap(lane.control_frees, row_control_frees[row]);
  std::swap(lane.deliveries, row_deliveries[j][row]);
}

// Rows row-1..row+1 are evaluated: the row's slots freed this cycle are released and its switches move, then the
// wavelets arriving over the RAMP enter the input queues and the due agents step (as in agent_pass).
void Fabric::Impl::block_finish(Fabric& f, Lane& lane, int j, int row) {
  const Cycle now = lane.now;
  const int width = f.width_;
  const LaneScope scope(&lane);  // teardown handlers and agents: queue events and clock of this lane's cycle
  std::vector<Free>& frees = row_frees[row];
  std::vector<Free>& control = row_control_frees[row];
  if (!frees.empty() || !control.empty()) lane.any_free = true;
  for (std::size_t i = 0, n = frees.size(); i < n; ++i) {
    if (i + 8 < n) {  // the freed colours' states, a few ahead
      const Router& ra = f.routers_[frees[i + 8].pe];
      __builtin_prefetch(&ra.state_at(ra.slot_of(frees[i + 8].c)));
    }
    release(f, frees[i]);
  }
  frees.clear();
  for (const Free& fr : control) {
    Router& r = f.routers_[fr.pe];
    Router::ColorState& cs = *r.state(fr.c);
    const Wavelet w = cs.wavelet(r.front(cs));
    r.pop_front(cs);
    if (w.control && r.apply_control(cs, w.payload) && f.agents_[fr.pe]) f.agents_[fr.pe]->on_teardown(fr.c, now);
  }
  control.clear();

  const int lo = row * width, hi = lo + width;
  const Delivery *d, *d_end;
  if (j >= int(ramp)) {
    const std::vector<Delivery>& v = row_deliveries[j - ramp][row];
    d = v.data();
    d_end = d + v.size();
  } else {
    d = deliveries.data() + block_due[j].first;
    d_end = deliveries.data() + block_due[j].second;
    d = std::lower_bound(d, d_end, lo, [](const Delivery& x, int pe) { return x.pe < pe; });
    d_end = std::lower_bound(d, d_end, hi, [](const Delivery& x, int pe) { return x.pe < pe; });
  }
  lane.delivered += std::uint64_t(d_end - d);
  const Cycle block_end = block_t0 + Cycle(block_k);
  const auto schedule = [&](int p, Cycle at) {
    if (at < block_end) mark_block_due(width, int(at - block_t0), p);
    else lane.schedules.push_back({at, p});
  };
  std::uint64_t* words = block_due_bits[j].data() + std::size_t(row) * row_words;
  for (int w = 0; w < row_words; ++w) {
    const int base = lo + 64 * w;
    const std::uint64_t bits = words[w];
    words[w] = 0;
    lane.steps += step_word(f, base, bits, d, d_end, now, schedule);
  }
}

// One wavelet from the PE's output queues onto its router (round robin over the non-empty queues).
void Fabric::Impl::inject(Fabric& f, Lane& lane, int pe) {
  hw::PeQueues* q = f.queues_[pe].get();
  if (!q || !q->output_nonempty_mask()) return;
  Router& r = f.routers_[pe];
  const Cycle now = lane.now;
  const std::uint32_t mask = q->output_nonempty_mask();
  const std::uint32_t after = mask & ~((2u << r.oq_rr) - 1u);
  for (std::uint32_t set : {after, mask & ~after}) {
    for (; set; set &= set - 1) {
      const int oq = __builtin_ctz(set);
      const hw::WaveletQueue& wq = q->oq(oq);
      if (!wq.front_crossed(now, ramp)) {  // still crossing the ramp
        lane.earliest_ready = std::min(lane.earliest_ready, wq.front_crossing_end(now, ramp));
        continue;
      }
      const Wavelet w = wq.front();
      if (!r.can_accept(w.color, Dir::Ramp)) {
        lane.any_ready = true;
        continue;
      }
      const bool was_full = wq.full();
      q->pop_output(oq);
      r.accept(r.state_at(r.slot_of(w.color)), w, now + router_ready);
      r.oq_rr = static_cast<std::uint8_t>(oq);
      ++lane.injections;
      // Room for an agent that may wait for it: woken in the agent phase, after the deliveries.
      if (was_full && f.agents_[pe] && next_wake[pe] > now) lane.wakes.push_back(pe);
      lane.progress = true;
      // One word per cycle: words left behind are looked at again next cycle (the engine must not skip it).
      if (q->output_nonempty_mask()) lane.earliest_ready = std::min(lane.earliest_ready, now + 1);
      return;
    }
  }
}

// Every output port of the router serves one ready colour (round robin between the colours requesting it).
void Fabric::Impl::evaluate(Fabric& f, Lane& lane, int pe) {
  const Cycle now = lane.now;
  Router* const routers = f.routers_.data();
  Router& r = routers[pe];
  const bool is_traced = observer && traced[pe];
  hw::PeQueues* q = f.queues_[pe].get();

  std::array<std::uint32_t, kPorts> requests{};
  std::uint32_t ports = 0;  // bit o: some colour requests output o
  Router::ColorState* css[hw::kMaxColors];
  Router::Entry* heads[hw::kMaxColors];
  for (std::uint32_t colors = r.buffered_colors(); colors; colors &= colors - 1) {
    const Color c = static_cast<Color>(__builtin_ctz(colors));
    Router::ColorState& cs = r.state_at(r.slot_of(c));
    if (cs.teardown) continue;
    Router::Entry& e = r.front(cs);
    if (Router::waiting(e, now)) {
      lane.earliest_ready = std::min(lane.earliest_ready, Router::ready_cycle(e, now));
      continue;
    }
    lane.any_ready = true;
    if (e.pending == Router::kUnresolved) {
      e.pending = cs.tx();
      if (e.pending & bit(Dir::Ramp)) {
        const bool ce_ignored = e.control && hw::ControlPayload::decode(e.payload).ce_ignore[0];
        if (ce_ignored || !r.filter_accepts(cs, cs.wavelet(e))) {
          e.pending &= ~bit(Dir::Ramp);
          if (!ce_ignored) {
            ++r.stats(cs).filtered;
            ++lane.filtered;
          }
        }
      }
      if (e.pending == 0) {
        (e.control ? lane.control_frees : lane.frees).push_back({pe, c});
        continue;
      }
    }
    css[c] = &cs;
    heads[c] = &e;
    for (DirMask pend = e.pending; pend; pend &= pend - 1) {
      const int o = __builtin_ctz(pend);
      bool room;
      if (o == kRamp) {
        const int iq = q ? q->input_queue_of(c) : hw::kUnbound;
        room = iq != hw::kUnbound && iq_room[pe][iq] != 0;
      } else {
        room = routers[pe + neighbour_offset[o]].can_accept(c, hw::opposite(Dir(o)));
      }
      if (room) {
        requests[o] |= 1u << c;
        ports |= 1u << o;
      } else {
        ++r.stats(cs).stalls[o];
        ++lane.stalls;
        ++lane.color_stalls[c];
        if (is_traced) lane.trace.push_back({pe, Dir(o), true, Wavelet{0, c, false}});
      }
    }
  }

  for (; ports; ports &= ports - 1) {
    const int o = __builtin_ctz(ports);
    const std::uint32_t req = requests[o];
    // Round robin: the first requesting colour after the one served last (a lone requester wins outright).
    Color c;
    if ((req & (req - 1)) == 0) {
      c = static_cast<Color>(__builtin_ctz(req));
    } else {
      const int last = r.rr[o];
      const std::uint32_t after = last >= 31 ? 0u : (req & ~((2u << last) - 1u));
      c = static_cast<Color>(__builtin_ctz(after ? after : req));
    }
    r.rr[o] = c;
    Router::ColorState& cs = *css[c];
    Router::Entry& e = *heads[c];
    if (o == kRamp) {
      const int iq = q->input_queue_of(c);
      --iq_room[pe][iq];
      lane.deliveries.push_back({now + ramp, pe, cs.wavelet(e)});
    } else {
      Wavelet out = cs.wavelet(e);
      if (out.control) out.payload = r.forwarded_payload(cs, out.payload);
      const int npe = pe + neighbour_offset[o];
      Router& nr = routers[npe];
      nr.accept(nr.state_at(nr.slot_of(c)), out, now + hop_ready);
      activate(npe, lane.activated);
      ++lane.hops;
      ++lane.color_hops[c];
    }
    r.count_sent(o);
    if (is_traced) lane.trace.push_back({pe, Dir(o), false, cs.wavelet(e)});
    lane.progress = true;
    e.pending &= ~(1u << o);
    if (e.pending == 0) (e.control ? lane.control_frees : lane.frees).push_back({pe, c});
  }

  if (r.has_buffered() || (q && q->output_nonempty_mask())) activate(pe, lane.activated);
}

// Latencies of the step about to run (cycles `now` .. `last`); 16-bit ready times of buffered wavelets and push
// stamps of output-queue words stay exact (hw::Router::Entry, hw::WaveletQueue) when refreshed at least every
// kShortCycleWindow cycles (refreshing early is exact too).
// Host threads for a step with about `active` routers to evaluate (one below simulation.parallel_min_routers).
int Fabric::host_threads(std::size_t active) const {
  if (active < arch_.simulation.parallel_min_routers) return 1;
  return arch_.simulation.host_threads > 0 ? arch_.simulation.host_threads
                                           : int(std::max(1u, std::thread::hardware_concurrency()));
}

void Fabric::begin_step(Cycle now, Cycle last) {
  Impl& m = *impl_;
  m.cycle_now = now;
  m.hop_ready = Cycle(arch_.router.link_latency) + arch_.router.router_latency;
  m.router_ready = arch_.router.router_latency;
  m.ramp = arch_.router.ramp_latency;
  if (last - m.ready_base >= hw::kShortCycleWindow) {
    for (auto& r : routers_) r.refresh_ready(m.ready_base, now);
    for (auto& q : queues_)
      if (q) q->refresh_stamps(m.ready_base, now, arch_.router.ramp_latency);
    m.ready_base = now;
  }
}

void Fabric::step_cycle() {
  Impl& m = *impl_;
  const Cycle now = now_;
  begin_step(now, now);
  bool progress = false;

  // 1. Wavelets reaching input queues over the RAMP this cycle, taken off the list: they enter the queues after the
  // router phase (the routers' room check counts them either way).
  m.due_begin = m.delivery_head;
  m.due_deliveries = 0;
  while (m.delivery_head < m.deliveries.size() && m.deliveries[m.delivery_head].at <= now) {
    ++m.delivery_head;
    ++m.due_deliveries;
  }
  stats_.ramp_deliveries += m.due_deliveries;
  progress = m.due_deliveries > 0;

  // 2. Routers: injections from output queues, then every output port serves one colour (round robin), in
  // bands of rows on the host threads (see plan_bands), then the rows between bands.
  m.collect_active();
  const int threads = host_threads(m.active.size());
  m.plan_bands(*this, threads);
  const int n_bands = int(m.bands.size());
  for (int li = 0; li < 2 * n_bands - 1; ++li) m.lanes[li].reset(now);
  if (n_bands > 1) {
    m.ensure_pool(threads, n_bands);
    m.pool->run([&](int band) {
      if (band < n_bands) m.sweep(*this, 2 * band);
    });
    for (int li = 1; li < 2 * n_bands - 1; li += 2) m.sweep(*this, li);
  } else {
    m.sweep(*this, 0);
  }

  // Merge the lanes in PE order.
  bool any_ready = false, traced_activity = false, any_free = false;
  Cycle earliest_ready = kNever;
  for (int li = 0; li < 2 * n_bands - 1; ++li) {
    Impl::Lane& lane = m.lanes[li];
    lane.add_to(stats_);
    any_ready |= lane.any_ready;
    traced_activity |= !lane.trace.empty();
    for (const auto& ev : lane.trace) {
      if (ev.stall) m.observer->on_stall(ev.pe, ev.out, ev.w.color, now);
      else m.observer->on_send(ev.pe, ev.out, ev.w, now);
    }
    progress |= lane.progress;
    earliest_ready = std::min(earliest_ready, lane.earliest_ready);
    for (const auto& d : lane.deliveries) m.deliveries.push_back(d);
    any_free |= !lane.frees.empty() || !lane.control_frees.empty();
  }
  // Agents due this cycle: the wheel's bucket, the deliveries' wake-ups, the lanes' injection wake-ups.
  m.load_far_wakes(now);  // wheel slots are relative to the cycle being simulated
  std::vector<int>& due = m.wheel[now % Impl::kWheel];  // teardown handlers below may still add to it
  // With isolated agents only, agents step in PE order, in parallel in ranges of PEs aligned to the due bitmap's
  // words (the bands' rows, rounded); the outcome is that of stepping them one by one.
  const bool isolated = m.shared_agents == 0;
  std::size_t work = m.due_deliveries + due.size();
  for (int li = 0; li < 2 * n_bands - 1; li += 2) work += m.lanes[li].wakes.size();
  const bool parallel_agents = isolated && n_bands > 1 && work >= 2 * std::size_t(n_bands);
  const auto chunk_lo = [&](int t) {
    return t == 0 ? 0 : t == n_bands ? num_pes() : m.bands[t].pe_lo & ~63;
  };

  // Compute engines: the deliveries enter their queues before teardown handlers and agents run, in PE order; an
  // engine they wake is due (isolated agents get theirs in agent_pass). Then the engines waiting for room in an
  // output queue the router took a word from.
  if (!isolated) {
    m.delivery_wakes.clear();
    for (std::size_t i = 0; i < m.due_deliveries; ++i) {
      const Impl::Delivery& d = m.deliveries[m.due_begin + i];
      if (m.deliver(*this, d, now)) m.delivery_wakes.push_back(d.pe);
    }
  }
  m.inject_wakes.clear();
  for (int li = 0; li < 2 * n_bands - 1; li += 2) {
    for (int pe : m.lanes[li].wakes) {
      if (m.next_wake[pe] <= now) continue;  // due already
      m.next_wake[pe] = now;
      if (isolated) m.mark_due(pe);
      else m.inject_wakes.push_back(pe);
    }
  }

  // 3. Wavelets that left through all their outputs free their slot; control wavelets move the switch.
  m.any_ready = any_ready;
  m.earliest_ready = earliest_ready;
  for (int li = 0; li < 2 * n_bands - 1; ++li) {
    if (parallel_agents && li % 2 == 0) continue;  // released by the band's thread in the agent phase
    Impl::Lane& lane = m.lanes[li];
    for (std::size_t i = lane.free_head; i < lane.frees.size(); ++i) m.release(*this, lane.frees[i]);
    for (const auto& fr : lane.late_frees) m.release(*this, fr);
  }
  for (int li = 0; li < 2 * n_bands - 1; ++li) {
    for (const auto& f : m.lanes[li].control_frees) {
      Router& r = routers_[f.pe];
      Router::ColorState& cs = *r.state(f.c);
      const Wavelet w = cs.wavelet(r.front(cs));
      r.pop_front(cs);
      if (w.control && r.apply_control(cs, w.payload)) {
        if (agents_[f.pe]) agents_[f.pe]->on_teardown(f.c, now);
      }
      // Routers waiting for this slot still hold wavelets, so they are active already.
    }
  }
  if (any_free) {
    m.any_ready = true;
    progress = true;  // a wavelet was consumed (possibly by a filter, without any send)
  }

  // 4. Deliveries and agents due this cycle.
  m.in_agent_phase = true;
  m.wheel_entries -= due.size();
  if (isolated) {
    for (int pe : due)
      if (m.next_wake[pe] == now) m.mark_due(pe);
  }
  if (parallel_agents) {
    // Each band also releases its remaining frees (agents do not see router buffers); next steps, activations
    // and queue events are merged in band order.
    m.pool->run([&](int t) {
      if (t >= n_bands) return;
      Impl::Lane& lane = m.lanes[2 * t];
      for (std::size_t i = lane.free_head; i < lane.frees.size(); ++i) m.release(*this, lane.frees[i]);
      for (const auto& fr : lane.late_frees) m.release(*this, fr);
      const Impl::LaneScope scope(&lane);
      lane.steps = m.agent_pass(*this, chunk_lo(t), chunk_lo(t + 1),
                                [&](int p, Cycle at) { lane.schedules.push_back({at, p}); });
    });
    for (int t = 0; t < n_bands; ++t) {
      Impl::Lane& lane = m.lanes[2 * t];
      for (const auto& w : lane.schedules) m.schedule(w.pe, w.at);
      if (lane.queue_events) {
        m.any_ready = true;
        m.frozen = false;
      }
      stats_.agent_steps += lane.steps;
      progress |= lane.steps > 0;
    }
  } else if (isolated) {
    const std::uint64_t steps = m.agent_pass(*this, 0, num_pes(), [&](int p, Cycle at) { m.schedule(p, at); });
    stats_.agent_steps += steps;
    progress |= steps > 0;
  } else {
    // Compute engines in due order: the wheel's bucket, the deliveries' wake-ups, the injections' wake-ups; wake()
    // never adds to these lists during the agent phase.
    const auto step_list = [&](const std::vector<int>& list) {
      for (std::size_t i = 0; i < list.size(); ++i) {
        m.prefetch_agent(*this, list, i);
        if (m.step_agent(*this, list[i], now, [&](int p, Cycle at) { m.schedule(p, at); })) {  // horizon == now
          ++stats_.agent_steps;
          progress = true;
        }
      }
    };
    step_list(due);
    step_list(m.delivery_wakes);
    step_list(m.inject_wakes);
  }
  if (isolated) std::fill(m.due_words.begin(), m.due_words.end(), 0);
  m.compact_deliveries();
  due.clear();
  m.in_agent_phase = false;
  m.adapt_band_shares(n_bands);
  m.horizon = now + 1;

  if (traced_activity && m.observer) m.observer->on_cycle_end(now);
  m.frozen = !progress;
  if (progress) {
    m.last_progress = now;
    stats_.cycles = now + 1;
  }
}

// Cycles now_ .. now_+k-1 in one sweep (see Impl::Region): the outcome, statistics included, is that of k calls of
// step_cycle(). Only the order of work differs: the rows' state stays in the host's caches from one cycle to the next.
void Fabric::step_block(int k) {
  Impl& m = *impl_;
  const Cycle t0 = now_;
  const int H = height_;
  begin_step(t0, t0 + Cycle(k) - 1);
  m.block_t0 = t0;
  m.block_k = k;
  const int threads = host_threads(m.pending_activations());
  // Activations are read from the flags row by row: the lists are not needed.
  m.next_active.clear();
  for (Impl::Lane& lane : m.lanes) lane.activated.clear();

  // Per-row and per-cycle storage.
  if (m.row_active.size() != std::size_t(H)) {
    m.row_active.assign(H, {});
    m.row_frees.assign(H, {});
    m.row_control_frees.assign(H, {});
    m.row_words = (width_ + 63) / 64;
  }
  if (m.row_deliveries.size() < std::size_t(k)) m.row_deliveries.resize(k, std::vector<std::vector<Impl::Delivery>>(H));
  if (m.block_due_bits.size() < std::size_t(k))
    m.block_due_bits.resize(k, std::vector<std::uint64_t>(std::size_t(H) * m.row_words, 0));
  m.plan_block(*this, threads);
  const int n_regions = int(m.block_regions.size()), n_bands = (n_regions + 1) / 2;
  if (m.block_lanes.size() < std::size_t(k)) m.block_lanes.resize(k);
  for (int j = 0; j < k; ++j) {
    if (m.block_lanes[j].size() < std::size_t(n_regions)) m.block_lanes[j].resize(n_regions);
    for (int li = 0; li < n_regions; ++li) m.block_lanes[j][li].reset(t0 + Cycle(j));
  }

  // Agents due in the block's cycles (from the wheel), and the RAMP deliveries already listed for them.
  m.load_far_wakes(t0);
  for (int j = 0; j < k; ++j) {
    std::vector<int>& due = m.wheel[(t0 + Cycle(j)) % Impl::kWheel];
    for (int pe : due)
      if (m.next_wake[pe] == t0 + Cycle(j)) m.mark_block_due(width_, j, pe);
    m.wheel_entries -= due.size();
    due.clear();
  }
  m.block_due.assign(std::min<std::size_t>(k, m.ramp), {0, 0});
  for (std::size_t j = 0; j < m.block_due.size(); ++j) {
    m.block_due[j].first = m.delivery_head;
    while (m.delivery_head < m.deliveries.size() && m.deliveries[m.delivery_head].at <= t0 + Cycle(j)) ++m.delivery_head;
    m.block_due[j].second = m.delivery_head;
  }

  // The bands, then the boundaries between them.
  if (n_bands > 1) {
    m.ensure_pool(threads, n_bands);
    m.pool->run([&](int b) {
      if (b < n_bands) m.block_region(*this, m.block_regions[b]);
    });
    if (n_bands > 2) {
      m.pool->run([&](int b) {
        if (b < n_bands - 1) m.block_region(*this, m.block_regions[n_bands + b]);
      });
    } else {
      m.block_region(*this, m.block_regions[n_bands]);
    }
  } else {
    m.block_region(*this, m.block_regions[0]);
  }

  // Merge, cycle by cycle and in PE order.
  Cycle last_progress = kNever;
  bool any_ready = false;
  Cycle earliest_ready = kNever;
  m.horizon = t0 + Cycle(k);
  for (int j = 0; j < k; ++j) {
    bool progress = false;
    for (int li = 0; li < n_regions; ++li) {
      Impl::Lane& lane = m.block_lanes[j][li];
      lane.add_to(stats_);
      stats_.ramp_deliveries += lane.delivered;
      stats_.agent_steps += lane.steps;
      progress |= lane.progress || lane.any_free || lane.delivered > 0 || lane.steps > 0;
      if (j == k - 1) {
        any_ready |= lane.any_ready || lane.any_free || lane.queue_events;
        earliest_ready = std::min(earliest_ready, lane.earliest_ready);
      }
      for (const auto& w : lane.schedules) m.schedule(w.pe, w.at);
      lane.activated.clear();
    }
    if (progress) last_progress = t0 + Cycle(j);
    // RAMP sends that arrive after the block join the list (cycle, then PE order); the others were delivered.
    const bool after = Cycle(j) + m.ramp >= Cycle(k);
    for (int row = 0; row < H; ++row) {
      std::vector<Impl::Delivery>& v = m.row_deliveries[j][row];
      if (after) m.deliveries.insert(m.deliveries.end(), v.begin(), v.end());
      v.clear();
    }
  }
  m.compact_deliveries();
  // Routers activated for the cycle after the block, back into the list the next step starts from.
  m.append_flagged(0, num_pes(), m.next_active);
  m.adapt_band_shares(n_bands);
  now_ = t0 + Cycle(k) - 1;
  stats_.block_cycles += Cycle(k);
  m.any_ready = any_ready;
  m.earliest_ready = earliest_ready;
  m.frozen = last_progress != now_;
  if (last_progress != kNever) {
    m.last_progress = last_progress;
    stats_.cycles = last_progress + 1;
  }
}

void Fabric::step(Cycle last) {
  if (const int k = impl_->block_length(*this, now_, last); k > 1) step_block(k);
  else step_cycle();
}

void Fabric::prepare() {
  if (!impl_->validated) {
    validate_routes();
    impl_->validated = true;
    // Layout is done: give every router's side arrays fresh allocations in PE order (all new ones first, then
    // the old ones go), so that each router's state is contiguous and neighbours sit close in memory.
    std::vector<Router::Storage> old;
    old.reserve(routers_.size());
    for (auto& r : routers_)
      if (!r.colors().empty()) old.push_back(r.repack());
    old.clear();
    // Every cycle walks this state: on meshes whose state outgrows the TLB's reach with 4 KiB pages, 2 MiB pages
    // spare most TLB misses (a host hint only; costs ~5 ms per MiB of state at elaboration).
    if (arch_.simulation.huge_pages && num_pes() >= kHugePagesMinPes) back_large_memory_with_huge_pages();
  }
}

bool Fabric::stuck(Cycle t) {
  const Impl& m = *impl_;
  // An agent step or a ramp delivery due at t is progress: agents may legitimately sleep for long.
  if (t != kNever && ((m.has_wakes() && m.earliest_wake() <= t) || (m.has_deliveries() && m.next_delivery() <= t)))
    return false;
  const Cycle limit = impl_->last_progress + arch_.simulation.deadlock_cycles;
  if (t != kNever && t < limit) return false;
  // The report speaks of the cycle at which the watchdog fired; a caller that repairs the cause (e.g. exits a
  // teardown) may run on from there.
  now_ = limit;
  impl_->stuck_since = impl_->last_progress;
  impl_->last_progress = limit;
  impl_->horizon = std::max(impl_->horizon, limit);
  return true;
}

void Fabric::run_until(Cycle until) {
  prepare();
  while (true) {
    const Cycle t = next_event();
    if (t == kNever && idle()) return;
    if (stuck(t)) throw DeadlockError(deadlock_report());
    if (t > until) return;
    now_ = t;
    step(until);
  }
}

RunResult Fabric::run(Cycle max_cycles) {
  prepare();
  const Cycle start = impl_->horizon;
  const Cycle limit = max_cycles == kNever ? kNever : start + max_cycles;
  while (!idle()) {
    const Cycle t = next_event();
    if (stuck(t)) throw DeadlockError(deadlock_report());
    if (t >= limit) return {stats_.cycles, false};
    now_ = t;
    step(limit - 1);
  }
  return {stats_.cycles, true};
}

std::string Fabric::deadlock_report() const {
  const Impl& m = *impl_;
  std::ostringstream os;
  os << "deadlock: nothing moved for " << arch_.simulation.deadlock_cycles << " cycles (last progress at cycle "
     << m.stuck_since << ", reported at cycle " << now_ << ") while work is pending\n";
  int lines = 0;
  const int max_lines = 40;
  auto more = [&] { return ++lines <= max_lines; };
  for (int pe = 0; pe < num_pes(); ++pe) {
    const Router& r = routers_[pe];
    const int x = pe % width_, y = pe / width_;
    for (const auto& cs : r.colors()) {
      if (cs.size == 0) continue;
      if (!more()) continue;
      const Router::Entry& e = r.front(cs);
      os << "  " << pe_name(x, y) << " colour " << int(cs.color) << ": " << int(cs.size)
         << " wavelet(s) buffered, switch position " << int(cs.position) << (cs.teardown ? " (in teardown)" : "");
      const DirMask pend = e.pending == Router::kUnresolved ? cs.tx() : e.pending;
      os << ", head waits for " << hw::dir_mask_string(pend);
      if (pend & bit(Dir::Ramp)) {
        const hw::PeQueues* q = queues_[pe].get();
        const int iq = q ? q->input_queue_of(cs.color) : hw::kUnbound;
        if (iq == hw::kUnbound) os << " (no input queue bound to colour " << int(cs.color) << ")";
        else os << " (IQ " << iq << " holds " << q->iq(iq).size() << "/" << q->iq(iq).capacity() << ")";
      }
      os << "\n";
    }
    if (const hw::PeQueues* q = queues_[pe].get()) {
      for (int oq = 0; oq < q->num_output_queues(); ++oq) {
        if (q->oq(oq).empty() || !more()) continue;
        const Color c = q->oq(oq).front().color;
        os << "  " << pe_name(x, y) << " OQ " << oq << ": " << q->oq(oq).size() << " word(s), head colour "
           << int(c) << (r.color_config(c) ? " waits for room at the router" : " has no route at this PE") << "\n";
      }
    }
    if (agents_[pe] && agents_[pe]->busy() && more()) {
      os << "  " << pe_name(x, y) << " compute engine: ";
      agents_[pe]->describe_wait(os);
      os << "\n";
    }
  }
  if (lines > max_lines) os << "  ... and " << (lines - max_lines) << " more\n";
  return os.str();
}

}  // namespace wafersim::fabric
