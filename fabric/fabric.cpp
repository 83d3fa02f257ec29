#include "fabric/fabric.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <queue>
#include <sstream>

#include "common/error.hpp"

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
  std::vector<Free> control_frees;  // frees of control wavelets (they move switches): after the router phase
  struct Wake {
    Cycle at;
    int pe;
    bool operator>(const Wake& o) const { return at != o.at ? at > o.at : pe > o.pe; }
  };

  std::vector<int> active, next_active;
  std::vector<std::uint8_t> in_active;
  std::deque<Delivery> deliveries;  // constant ramp latency keeps it sorted by time
  std::vector<std::array<std::uint8_t, 8>> iq_inflight;
  std::vector<Free> frees;
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
  // Fabric::wake() for the engine's own calls, where `at` is already >= horizon and past the agent-phase rule.
  void wake_at(int pe, Cycle at) {
    if (next_wake[pe] <= at) return;
    next_wake[pe] = at;
    schedule(pe, at);
  }
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
  bool traced_activity = false;

  void activate(int pe) {
    if (!in_active[pe]) {
      in_active[pe] = 1;
      next_active.push_back(pe);
    }
  }
};

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
  impl_->iq_inflight.assign(n, {});
  impl_->next_wake.assign(n, kNever);
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
  impl_->activate(index(x, y));
  impl_->any_ready = true;
  impl_->frozen = false;
}

hw::PeQueues& Fabric::queues(int x, int y) {
  auto& q = queues_[index(x, y)];
  if (!q)
    q = std::make_unique<hw::PeQueues>(index(x, y), arch_.queues.input_depths, arch_.queues.output_depths,
                                       static_cast<hw::QueueListener*>(this), &now_);
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
  agents_[pe] = agent;
  queues(x, y);
  wake(pe, start);
}

void Fabric::wake(int pe, Cycle at) {
  Impl& m = *impl_;
  if (m.in_agent_phase && at <= now_) at = now_ + 1;
  at = std::max(at, m.horizon);
  if (m.next_wake[pe] <= at) return;  // an earlier step is already due; the agent re-evaluates then
  m.next_wake[pe] = at;
  m.schedule(pe, at);
}

// Queue events come from agents (after the router phase): the router must look again next cycle.
void Fabric::on_input_popped(int pe) {
  impl_->activate(pe);
  impl_->any_ready = true;
  impl_->frozen = false;
}
void Fabric::on_output_pushed(int pe) {
  impl_->activate(pe);
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
  if (!m.next_active.empty()) {
    if (m.any_ready && !m.frozen) t = m.horizon;
    else if (m.earliest_ready != kNever) t = std::max(m.earliest_ready, m.horizon);
  }
  if (!m.deliveries.empty()) t = std::min(t, std::max(m.deliveries.front().at, m.horizon));
  if (m.has_wakes()) t = std::min(t, std::max(m.earliest_wake(), m.horizon));
  return t;
}

bool Fabric::idle() const {
  const Impl& m = *impl_;
  if (!m.next_active.empty() || !m.deliveries.empty() || m.has_wakes()) return false;
  for (int pe : m.agent_pes)
    if (agents_[pe]->busy()) return false;
  return true;
}

void Fabric::step_cycle() {
  Impl& m = *impl_;
  const Cycle now = now_;
  const Cycle hop_ready = Cycle(arch_.router.link_latency) + arch_.router.router_latency;
  const Cycle router_ready = arch_.router.router_latency;
  const Cycle ramp = arch_.router.ramp_latency;
  bool progress = false;
  m.traced_activity = false;

  // 1. Wavelets reaching input queues over the RAMP.
  while (!m.deliveries.empty() && m.deliveries.front().at <= now) {
    const auto d = m.deliveries.front();
    m.deliveries.pop_front();
    hw::PeQueues& q = *queues_[d.pe];
    const int iq = q.input_queue_of(d.w.color);
    --m.iq_inflight[d.pe][iq];
    q.deliver(d.w);
    ++stats_.ramp_deliveries;
    if (agents_[d.pe]) m.wake_at(d.pe, now);  // now >= horizon in the router phase
    progress = true;
  }

  // 2. Routers: inject from output queues, then every output port serves one colour (round robin).
  // Routers are evaluated in PE order (memory order): on large meshes the sweep then streams through the
  // router, queue and colour arrays instead of chasing a scrambled activation order. Within a cycle the result
  // does not depend on the order (a router's sends only add to neighbours' buffers; frees come after the phase).
  if (m.next_active.size() * 16 > m.in_active.size()) {
    // Dense: rebuild the list from the flags, 8 PEs per load.
    m.active.clear();
    const std::uint8_t* flags = m.in_active.data();
    const std::size_t n = m.in_active.size();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      std::uint64_t word;
      std::memcpy(&word, flags + i, 8);
      for (; word; word &= word - 1) m.active.push_back(int(i + (__builtin_ctzll(word) >> 3)));
    }
    for (; i < n; ++i)
      if (flags[i]) m.active.push_back(int(i));
  } else {
    m.active.swap(m.next_active);
    std::sort(m.active.begin(), m.active.end());
  }
  m.next_active.clear();
  bool any_ready = false;
  Cycle earliest_ready = kNever;
  std::uint64_t n_hops = 0, n_stalls = 0, n_injections = 0, n_filtered = 0;
  const std::size_t n_active = m.active.size();
  const int* const active = m.active.data();
  for (std::size_t ai = 0; ai < n_active; ++ai) m.in_active[active[ai]] = 0;
  stats_.router_cycles += n_active;
  const int width = width_;
  Router* const routers = routers_.data();
  std::size_t free_head = 0;
  for (std::size_t ai = 0; ai < n_active; ++ai) {
    const int pe = active[ai];
    // The active set is memory-bound on large meshes: fetch the routers evaluated a little later.
    if (ai + 4 < n_active) {
      __builtin_prefetch(&routers[active[ai + 4]]);
      __builtin_prefetch(queues_[active[ai + 4]].get());
    }
    if (ai + 2 < n_active) {
      const int pa = active[ai + 2];
      Router& ra = routers[pa];
      for (std::uint32_t b = ra.buffered_colors(); b; b &= b - 1) {
        const int s = ra.slot_of(static_cast<Color>(__builtin_ctz(b)));
        __builtin_prefetch(&ra.colors()[s]);
        __builtin_prefetch(ra.entry_base_of_slot(s));
        __builtin_prefetch(ra.stats_data() + s, 1);
      }
      if (const hw::PeQueues* qa = queues_[pa].get(); qa && qa->output_nonempty_mask())
        __builtin_prefetch(&qa->oq(__builtin_ctz(qa->output_nonempty_mask())));
    }
    // Deferred frees of data wavelets: a router more than one row behind is never touched again this cycle (a
    // router reads and writes only itself and its four neighbours), so its freed slots can be released now,
    // while its state is still in cache; the result is the same as releasing them after the phase.
    for (; free_head < m.frees.size() && m.frees[free_head].pe + width < pe; ++free_head) {
      Router& fr = routers[m.frees[free_head].pe];
      fr.pop_front(fr.state_at(fr.slot_of(m.frees[free_head].c)));
    }
    // The south neighbour's colour states are checked for room before their own evaluation a row later.
    if (std::size_t(pe + width + 2) < routers_.size()) {
      const auto& sc = routers[pe + width + 2].colors();
      const char* p0 = reinterpret_cast<const char*>(sc.data());
      for (std::size_t off = 0; off < sc.size() * sizeof(Router::ColorState); off += 64) __builtin_prefetch(p0 + off);
    }
    Router& r = routers[pe];
    const bool traced = m.observer && m.traced[pe];
    hw::PeQueues* q = queues_[pe].get();

    if (q && q->output_nonempty_mask()) {
      // Round robin over the non-empty output queues, starting after the one served last.
      const std::uint32_t mask = q->output_nonempty_mask();
      const std::uint32_t after = mask & ~((2u << r.oq_rr) - 1u);
      for (std::uint32_t set : {after, mask & ~after}) {
        bool injected = false;
        for (; set; set &= set - 1) {
          const int oq = __builtin_ctz(set);
          const hw::WaveletQueue& wq = q->oq(oq);
          if (wq.front_stamp() + ramp > now) {  // still crossing the ramp
            earliest_ready = std::min(earliest_ready, wq.front_stamp() + ramp);
            continue;
          }
          const Wavelet w = wq.front();
          if (!r.can_accept(w.color, Dir::Ramp)) {
            any_ready = true;
            continue;
          }
          q->pop_output(oq);
          r.accept(r.state_at(r.slot_of(w.color)), w, now + router_ready);
          r.oq_rr = static_cast<std::uint8_t>(oq);
          ++n_injections;
          if (agents_[pe]) m.wake_at(pe, now);
          progress = true;
          injected = true;
          break;
        }
        if (injected) break;
      }
    }

    std::array<std::uint32_t, kPorts> requests{};
    std::uint32_t ports = 0;  // bit o: some colour requests output o
    Router::ColorState* css[hw::kMaxColors];
    Router::Entry* heads[hw::kMaxColors];
    for (std::uint32_t colors = r.buffered_colors(); colors; colors &= colors - 1) {
      const Color c = static_cast<Color>(__builtin_ctz(colors));
      Router::ColorState& cs = r.state_at(r.slot_of(c));
      if (cs.teardown) continue;
      Router::Entry& e = r.front(cs);
      if (e.ready > now) {
        earliest_ready = std::min(earliest_ready, e.ready);
        continue;
      }
      any_ready = true;
      if (e.pending == Router::kUnresolved) {
        e.pending = cs.tx();
        if (e.pending & bit(Dir::Ramp)) {
          const bool ce_ignored = e.control && hw::ControlPayload::decode(e.payload).ce_ignore[0];
          if (ce_ignored || !r.filter_accepts(cs, e.wavelet())) {
            e.pending &= ~bit(Dir::Ramp);
            if (!ce_ignored) {
              ++r.stats(cs).filtered;
              ++n_filtered;
            }
          }
        }
        if (e.pending == 0) {
          (e.control ? m.control_frees : m.frees).push_back({pe, c});
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
          room = iq != hw::kUnbound && q->iq(iq).size() + m.iq_inflight[pe][iq] < q->iq(iq).capacity();
        } else {
          const int npe = pe + (o == 2) - (o == 3) + (o == 1 ? width : 0) - (o == 0 ? width : 0);
          room = routers[npe].can_accept(c, hw::opposite(Dir(o)));
        }
        if (room) {
          requests[o] |= 1u << c;
          ports |= 1u << o;
        } else {
          ++r.stats(cs).stalls[o];
          ++n_stalls;
          ++stats_.color_stalls[c];
          if (traced) {
            m.observer->on_stall(pe, Dir(o), c, now);
            m.traced_activity = true;
          }
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
        ++m.iq_inflight[pe][iq];
        m.deliveries.push_back({now + ramp, pe, e.wavelet()});
      } else {
        Wavelet out = e.wavelet();
        if (out.control) out.payload = r.forwarded_payload(cs, out.payload);
        const int npe = pe + (o == 2) - (o == 3) + (o == 1 ? width : 0) - (o == 0 ? width : 0);
        Router& nr = routers[npe];
        nr.accept(nr.state_at(nr.slot_of(c)), out, now + hop_ready);
        m.activate(npe);
        ++n_hops;
        ++stats_.color_hops[c];
      }
      ++r.stats(cs).sent[o];
      if (traced) {
        m.observer->on_send(pe, Dir(o), e.wavelet(), now);
        m.traced_activity = true;
      }
      progress = true;
      e.pending &= ~(1u << o);
      if (e.pending == 0) (e.control ? m.control_frees : m.frees).push_back({pe, c});
    }

    if (r.has_buffered() || (q && q->output_nonempty_mask())) m.activate(pe);
  }
  stats_.wavelet_hops += n_hops;
  stats_.stall_cycles += n_stalls;
  stats_.ramp_injections += n_injections;
  stats_.filtered += n_filtered;

  // 3. Wavelets that left through all their outputs free their slot; control wavelets move the switch.
  m.any_ready = any_ready;
  m.earliest_ready = earliest_ready;
  const bool any_free = !m.frees.empty() || !m.control_frees.empty();
  for (; free_head < m.frees.size(); ++free_head) {
    Router& r = routers_[m.frees[free_head].pe];
    r.pop_front(r.state_at(r.slot_of(m.frees[free_head].c)));
  }
  for (const auto& f : m.control_frees) {
    Router& r = routers_[f.pe];
    Router::ColorState& cs = *r.state(f.c);
    const Wavelet w = r.front(cs).wavelet();
    r.pop_front(cs);
    if (w.control && r.apply_control(cs, w.payload)) {
      if (agents_[f.pe]) agents_[f.pe]->on_teardown(f.c, now);
    }
    // Routers waiting for this slot still hold wavelets, so they are active already.
  }
  if (any_free) {
    m.any_ready = true;
    progress = true;  // a wavelet was consumed (possibly by a filter, without any send)
  }
  m.frees.clear();
  m.control_frees.clear();

  // 4. Agents due this cycle, in PE order.
  m.in_agent_phase = true;
  m.horizon = now;  // wheel slots are relative to the cycle being simulated
  while (!m.far_wakes.empty() && m.far_wakes.top().at < now + Impl::kWheel) {
    const Impl::Wake wk = m.far_wakes.top();
    m.far_wakes.pop();
    m.wheel[wk.at % Impl::kWheel].push_back(wk.pe);
    ++m.wheel_entries;
  }
  std::vector<int>& due = m.wheel[now % Impl::kWheel];
  m.wheel_entries -= due.size();
  for (std::size_t i = 0; i < due.size(); ++i) {  // wake() never adds to this bucket during the agent phase
    const int pe = due[i];
    if (i + 2 < due.size()) {  // agents and their queues are scattered over the heap
      __builtin_prefetch(agents_[due[i + 2]]);
      __builtin_prefetch(queues_[due[i + 2]].get());
    }
    if (m.next_wake[pe] != now) continue;  // stale: superseded by an earlier wake-up already served
    m.next_wake[pe] = kNever;
    hw::PeAgent* agent = agents_[pe];
    if (!agent) continue;
    const Cycle nxt = agent->step(now, *queues_[pe]);
    ++stats_.agent_steps;
    progress = true;
    if (nxt != kNever) m.wake_at(pe, std::max(nxt, now + 1));  // > now, and horizon == now here
  }
  due.clear();
  m.in_agent_phase = false;
  m.horizon = now + 1;

  if (m.traced_activity && m.observer) m.observer->on_cycle_end(now);
  m.frozen = !progress;
  if (progress) {
    m.last_progress = now;
    stats_.cycles = now + 1;
  }
}

void Fabric::ensure_validated() {
  if (!impl_->validated) {
    validate_routes();
    impl_->validated = true;
    // Layout is done: give every router's side arrays fresh allocations in PE order (all new ones first, then
    // the old ones go), so that each router's state is contiguous and neighbours sit close in memory.
    std::vector<Router::Storage> old;
    old.reserve(routers_.size());
    for (auto& r : routers_)
      if (!r.colors().empty()) old.push_back(r.repack());
  }
}

bool Fabric::stuck(Cycle t) {
  const Impl& m = *impl_;
  // An agent step or a ramp delivery due at t is progress: agents may legitimately sleep for long.
  if (t != kNever && ((m.has_wakes() && m.earliest_wake() <= t) || (!m.deliveries.empty() && m.deliveries.front().at <= t)))
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
  ensure_validated();
  while (true) {
    const Cycle t = next_event();
    if (t == kNever && idle()) return;
    if (stuck(t)) throw DeadlockError(deadlock_report());
    if (t > until) return;
    now_ = t;
    step_cycle();
  }
}

RunResult Fabric::run(Cycle max_cycles) {
  ensure_validated();
  const Cycle start = impl_->horizon;
  const Cycle limit = max_cycles == kNever ? kNever : start + max_cycles;
  while (!idle()) {
    const Cycle t = next_event();
    if (stuck(t)) throw DeadlockError(deadlock_report());
    if (t >= limit) return {stats_.cycles, false};
    now_ = t;
    step_cycle();
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
