// The router phase, the fabric's timing model in one place: which routers are evaluated in a cycle (the active
// set), a router taking up to ramp_width words from its CE's output queues (inject), every output port serving one
// ready colour (the RAMP: up to ramp_width colours) with credit back-pressure (evaluate), and the end of a wavelet's stay (release: its slot frees; a control
// wavelet then moves the colour's switch). Internal to the fabric engine; the cycle (cycle_step.cpp) and the cycle
// block (cycle_block.cpp) call these in their own order over the rows.
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fabric/agent_schedule.hpp"
#include "fabric/lane.hpp"
#include "fabric/mesh.hpp"

namespace wafersim::fabric {
class LinkObserver;
}

namespace wafersim::fabric::engine {

struct RouterPhase {
  RouterPhase(Mesh& mesh, const AgentSchedule& agents);

  Mesh& mesh;
  // The mesh's arrays and the agents' next wake-up cycles, sized once at construction: the hot loops read them
  // through these pointers, one load closer than through `mesh`.
  hw::Router* const router_at;
  std::unique_ptr<hw::PeQueues>* const queues_at;
  hw::PeAgent* const* const agent_at;
  const Cycle* const next_wake_at;  // read by inject: is the agent already due?

  // Routers to evaluate: `active` this cycle (PE order), `next_active` activated for the next cycle by agents and
  // the host (the router phase's own activations go to its lanes). in_active: the flag behind both.
  std::vector<int> active, next_active;
  std::vector<std::uint8_t> in_active;
  // Router pe is evaluated next cycle; `into` is next_active or, in the router and agent phases, a lane's list.
  void activate(int pe, std::vector<int>& into) {
    if (!in_active[pe]) {
      in_active[pe] = 1;
      into.push_back(pe);
    }
  }
  // The routers to evaluate this cycle, in PE order (memory order: on large meshes the sweep then streams through
  // the router, queue and colour arrays instead of chasing a scrambled activation order).
  void collect_active(std::vector<Lane>& lanes);
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

  // Free words of each input queue that no wavelet crossing the ramp has claimed yet (capacity - size - wavelets
  // on their way): the RAMP room check reads this dense array instead of the queue. It is a second copy of queue
  // state, kept in step by evaluate (a RAMP send claims a word) and by the queue listener (an agent's pop returns
  // one); a delivery does not change it (the word was claimed when the wavelet left).
  std::vector<std::array<std::uint8_t, hw::PeQueues::kMaxQueues>> iq_room;
  bool iq_room_consistent(int pe) const;  // never more room than free words (checked in debug builds)

  std::array<int, hw::kNumPorts> neighbour_offset{};  // PE index step out of each port (N, S, E, W; RAMP 0)

  // Latencies of the step being simulated (from hw::ArchParams::router).
  Cycle hop_ready = 0, router_ready = 0, ramp = 0;
  int ramp_width = 1;  // wavelets per cycle over the RAMP, each direction
  Cycle ready_base = 0;  // cycle of the last hw::Router::refresh_ready
  // Before a step over cycles now..last: 16-bit ready times of buffered wavelets and push stamps of output-queue
  // words stay exact (hw::Router::Entry, hw::WaveletQueue) when refreshed at least every kShortCycleWindow cycles
  // (refreshing early is exact too).
  void begin_step(const hw::ArchParams& arch, Cycle now, Cycle last);

  LinkObserver* observer = nullptr;
  std::vector<std::uint8_t> traced;  // per PE: the observer watches this router's links

  void inject(Lane& lane, int pe);
  bool inject_one(Lane& lane, int pe);
  void evaluate(Lane& lane, int pe);
  // A data wavelet's slot is released.
  void release(const Free& fr) {
    hw::Router& r = router_at[fr.pe];
    r.pop_front(r.state_at(r.slot_of(fr.c)));
  }
  // The data frees of a lane that the sweep did not release early (HostBands::sweep), after the phase.
  void release_rest(const Lane& lane) {
    for (std::size_t i = lane.free_head; i < lane.frees.size(); ++i) release(lane.frees[i]);
    for (const Free& fr : lane.late_frees) release(fr);
  }
  // A control wavelet's slot is released, then its first switch command applies (the switch moves only after the
  // control wavelet passed); a TEARDOWN runs the agent's teardown handler. Routers waiting for this slot still
  // hold wavelets, so they are active already.
  void release_control(const Free& fr, Cycle now) {
    hw::Router& r = router_at[fr.pe];
    hw::Router::ColorState& cs = *r.state(fr.c);
    const hw::Wavelet w = cs.wavelet(r.front(cs));
    r.pop_front(cs);
    if (w.control && r.apply_control(cs, w.payload) && agent_at[fr.pe]) agent_at[fr.pe]->on_teardown(fr.c, now);
  }

  // The colour states of the wavelets buffered at a router evaluated a little later. (The prefetch helpers are
  // always inlined: GCC's pure-function analysis sees no side effect in a prefetch and drops calls it did not
  // inline.)
  [[gnu::always_inline]] static void prefetch_colors(const hw::Router& r) {
    for (std::uint32_t b = r.buffered_colors(); b; b &= b - 1)
      __builtin_prefetch(&r.state_at(r.slot_of(static_cast<Color>(__builtin_ctz(b)))));
  }
  // Injections list[i..end) come next: the queues of the routers a few ahead, their head word, then the state of
  // that word's colour.
  [[gnu::always_inline]] void prefetch_injection(const int* list, std::size_t i, std::size_t end) const {
    if (i + 6 < end) __builtin_prefetch(queues_at[list[i + 6]].get());
    if (i + 3 < end)
      if (const hw::PeQueues* qa = queues_at[list[i + 3]].get(); qa && qa->output_nonempty_mask())
        __builtin_prefetch(&qa->oq(__builtin_ctz(qa->output_nonempty_mask())));
    if (i + 1 < end)
      if (const hw::PeQueues* qa = queues_at[list[i + 1]].get(); qa && qa->output_nonempty_mask()) {
        const hw::Router& ri = router_at[list[i + 1]];
        const int s = ri.slot_of(qa->oq(__builtin_ctz(qa->output_nonempty_mask())).front().color);
        if (s >= 0) __builtin_prefetch(&ri.state_at(s));
      }
  }
};

}  // namespace wafersim::fabric::engine
