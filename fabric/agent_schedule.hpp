// When each agent (compute engine or traffic driver behind a RAMP) steps next: a timing wheel for the near future,
// a heap beyond it, the next wake-up cycle per PE, and, when every agent is isolated, bitmaps of the agents due in
// the cycle being simulated, so that a pass over a large mesh with few agents due skips the empty words.
// Internal to the fabric engine.
#pragma once
#include <algorithm>
#include <cstdint>
#include <queue>
#include <vector>

#include "fabric/fabric.hpp"
#include "fabric/lane.hpp"
#include "fabric/mesh.hpp"

namespace wafersim::fabric::engine {

struct AgentSchedule {
  explicit AgentSchedule(std::size_t n);

  // Wake-ups: entries whose cycle no longer matches next_wake[pe] are stale and skipped.
  static constexpr Cycle kWheel = 1024;
  std::vector<std::vector<int>> wheel = std::vector<std::vector<int>>(kWheel);  // slot: cycle % kWheel
  std::size_t wheel_entries = 0;
  std::priority_queue<Wake, std::vector<Wake>, std::greater<Wake>> far_wakes;
  std::vector<Cycle> next_wake;  // per PE: the cycle the agent steps next (kNever: waits for a queue event)
  Cycle horizon = 0;             // first cycle not simulated yet; wheel slots count from it
  bool in_agent_phase = false;

  std::vector<int> agent_pes;  // PEs that ever had an agent
  // Per PE: bit 0 the agent is not isolated (hw::PeAgent::isolated), bit 1 it is a PrefetchingAgent.
  static constexpr std::uint8_t kShared = 1, kPrefetching = 2;
  std::vector<std::uint8_t> agent_kind;
  int shared_agents = 0;  // attached agents that are not isolated
  bool all_isolated() const { return shared_agents == 0; }
  void attach(Mesh& mesh, int pe, hw::PeAgent* agent);

  void schedule(int pe, Cycle at) {
    if (at - horizon < kWheel) {
      wheel[at % kWheel].push_back(pe);
      ++wheel_entries;
    } else {
      far_wakes.push({at, pe});
    }
  }
  // Wake-ups due before now + kWheel move from the heap into the wheel; wheel slots count from `now`.
  void load_far_wakes(Cycle now);
  // Earliest cycle >= horizon with a (possibly stale) wake-up, or kNever.
  Cycle earliest_wake() const;
  bool has_wakes() const { return wheel_entries > 0 || !far_wakes.empty(); }
  // Takes the wheel's slot of cycle `at` (the caller steps or marks its agents).
  std::vector<int>& slot(Cycle at) { return wheel[at % kWheel]; }

  // A wheel entry for cycle `at` is current unless an earlier wake-up superseded it.
  bool current(int pe, Cycle at) const { return next_wake[pe] == at; }
  // The one rule for an unscheduled wake-up (a RAMP delivery, or the router took a word from a full output
  // queue): the agent becomes due now unless a step at or before now is already due. True if it became due.
  bool wake_now(int pe, Cycle now) {
    if (next_wake[pe] <= now) return false;
    next_wake[pe] = now;
    return true;
  }

  // Steps the agent at `pe` if its wake-up for `now` is still current (not stale, agent attached). A next step it
  // asks for is recorded in next_wake and handed to schedule(pe, at): the wheel, or a lane on a host thread.
  template <class Schedule>
  bool step_agent(Mesh& mesh, int pe, Cycle now, Schedule&& schedule) {
    if (!current(pe, now)) return false;  // stale: superseded by an earlier wake-up already served
    next_wake[pe] = kNever;
    hw::PeAgent* agent = mesh.agents[pe];
    if (!agent) return false;
    const Cycle nxt = agent->step(now, *mesh.queues[pe]);
    if (nxt != kNever) {
      const Cycle at = std::max(nxt, now + 1);  // > now
      if (next_wake[pe] > at) {
        next_wake[pe] = at;
        schedule(pe, at);
      }
    }
    return true;
  }

  // Isolated agents due in the cycle being simulated: a bit per PE, and a bit per word of those bits that has any
  // set.
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
  std::vector<int> delivery_wakes, inject_wakes;  // compute engines a delivery / an injection woke

  // The PEs [base, base+64): the wavelets [d, d_end) below base+64 enter their input queues (d moves past them),
  // then the agents due (`bits`, and those a delivery woke) step in PE order. Returns the number stepped.
  template <class Schedule>
  std::uint64_t step_word(Mesh& mesh, int base, std::uint64_t bits, const Delivery*& d, const Delivery* d_end,
                          Cycle now, Schedule&& schedule) {
    for (; d != d_end && d->pe < base + 64; ++d) {
      // The queues' counters a little ahead, then the input queue the wavelet goes to (bound, or it would not
      // have left its router).
      if (d + 16 < d_end) __builtin_prefetch(mesh.queues[d[16].pe].get());
      if (d + 8 < d_end) {
        const hw::PeQueues& qn = *mesh.queues[d[8].pe];
        if (const int iq = qn.input_queue_of(d[8].w.color); iq != hw::kUnbound) __builtin_prefetch(&qn.iq(iq));
      }
      if (deliver(mesh, *d, now)) bits |= std::uint64_t(1) << (d->pe - base);
    }
    std::uint64_t steps = 0;
    for (; bits; bits &= bits - 1) {
      const int pe = base + __builtin_ctzll(bits);
      if (const std::uint64_t rest = bits & (bits - 1)) {
        // The next due agent (fetched one step ago) starts fetching what it will touch; the one after it, its
        // object and queue counters.
        const int nxt = base + __builtin_ctzll(rest);
        if (agent_kind[nxt] & kPrefetching)
          static_cast<const PrefetchingAgent*>(mesh.agents[nxt])->prefetch(*mesh.queues[nxt]);
        if (const std::uint64_t rest2 = rest & (rest - 1)) {
          const int nxt2 = base + __builtin_ctzll(rest2);
          __builtin_prefetch(mesh.agents[nxt2]);
          // A compute engine's prefetch() reads its first two lines (the object need not start on a line).
          if (agent_kind[nxt2] & kPrefetching) __builtin_prefetch(reinterpret_cast<const char*>(mesh.agents[nxt2]) + 64);
          __builtin_prefetch(mesh.queues[nxt2].get());
        }
      }
      steps += step_agent(mesh, pe, now, schedule);
    }
    return steps;
  }
  // The wavelet reaches its input queue; true if it wakes the PE's agent.
  bool deliver(Mesh& mesh, const Delivery& d, Cycle now) {
    mesh.queues[d.pe]->deliver(d.w);
    return mesh.agents[d.pe] && wake_now(d.pe, now);
  }
  // Agents are scattered over the heap: fetched a few steps ahead.
  [[gnu::always_inline]] static void prefetch_agent(const Mesh& mesh, const std::vector<int>& list, std::size_t i) {
    if (i + 4 < list.size()) __builtin_prefetch(mesh.agents[list[i + 4]]);
  }
  // The isolated agents' pass for PEs [lo, hi) (lo a multiple of 64), in PE order: the wavelets deliveries[0, n)
  // due this cycle at a PE reach its input queues, then its agent steps if it is due (due_bits, or woken by one of
  // these deliveries). Returns the number of agents stepped.
  template <class Schedule>
  std::uint64_t pass(Mesh& mesh, const Delivery* due, std::size_t n, int lo, int hi, Cycle now,
                     Schedule&& schedule) {
    const Delivery* d = due;
    const Delivery* const d_end = due + n;
    d = std::lower_bound(d, d_end, lo, [](const Delivery& x, int pe) { return x.pe < pe; });
    std::uint64_t steps = 0;
    const int w_end = (hi + 63) >> 6;
    for (int w = lo >> 6;; ++w) {
      w = std::min(next_due_word(w, w_end), d != d_end ? d->pe >> 6 : w_end);
      if (w >= w_end) break;
      const int base = w << 6;
      const std::uint64_t bits = due_bits[w];
      due_bits[w] = 0;
      steps += step_word(mesh, base, bits, d, d_end, now, schedule);
    }
    return steps;
  }

  // An isolated agent stepping on a host thread: the lane that collects its queue events (set for the scope).
  // constinit and defined here: every TU reads the TLS slot directly (see common/worker_pool.hpp).
  static inline thread_local constinit Lane* tls_lane = nullptr;
  struct LaneScope {
    explicit LaneScope(Lane* lane) { tls_lane = lane; }
    ~LaneScope() { tls_lane = nullptr; }
    LaneScope(const LaneScope&) = delete;
    LaneScope& operator=(const LaneScope&) = delete;
  };
};

}  // namespace wafersim::fabric::engine
