#include "fabric/router_phase.hpp"

#include <algorithm>

#include "common/check.hpp"
#include "fabric/fabric.hpp"

namespace wafersim::fabric::engine {

using hw::bit;
using hw::Dir;
using hw::DirMask;
using hw::Router;
using hw::Wavelet;

namespace {
constexpr int kPorts = hw::kNumPorts;
constexpr int kRamp = static_cast<int>(Dir::Ramp);
}  // namespace

RouterPhase::RouterPhase(Mesh& m, const AgentSchedule& a)
    : mesh(m),
      router_at(m.routers.data()),
      queues_at(m.queues.data()),
      agent_at(m.agents.data()),
      next_wake_at(a.next_wake.data()) {
  static_assert(int(Dir::North) == 0 && int(Dir::South) == 1 && int(Dir::East) == 2 && int(Dir::West) == 3);
  neighbour_offset = {-mesh.width, mesh.width, 1, -1, 0};
  in_active.assign(mesh.routers.size(), 0);
  iq_room.assign(mesh.routers.size(), {});
}

void RouterPhase::collect_active(std::vector<Lane>& lanes) {
  std::size_t pending = next_active.size();
  for (const Lane& lane : lanes) pending += lane.activated.size();
  if (pending * 16 > in_active.size()) {
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

void RouterPhase::begin_step(const hw::ArchParams& arch, Cycle now, Cycle last) {
  hop_ready = Cycle(arch.router.link_latency) + arch.router.router_latency;
  router_ready = arch.router.router_latency;
  ramp = arch.router.ramp_latency;
  ramp_width = arch.router.ramp_width;
  if (last - ready_base >= hw::kShortCycleWindow) {
    for (auto& r : mesh.routers) r.refresh_ready(ready_base, now);
    for (auto& q : mesh.queues)
      if (q) q->refresh_stamps(ready_base, now, ramp);
    ready_base = now;
  }
}

bool RouterPhase::iq_room_consistent(int pe) const {
  const hw::PeQueues* q = queues_at[pe].get();
  for (int i = 0; q && i < q->num_input_queues(); ++i)
    if (iq_room[pe][i] + q->iq(i).size() > q->iq(i).capacity()) return false;
  return true;
}

// Up to ramp_width wavelets from the PE's output queues onto its router, one at a time (round robin over the
// non-empty queues).
void RouterPhase::inject(Lane& lane, int pe) {
  for (int k = 0; k < ramp_width && inject_one(lane, pe); ++k) {
  }
}

bool RouterPhase::inject_one(Lane& lane, int pe) {
  hw::PeQueues* q = queues_at[pe].get();
  if (!q || !q->output_nonempty_mask()) return false;
  Router& r = router_at[pe];
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
      if (was_full && agent_at[pe] && next_wake_at[pe] > now) lane.wakes.push_back(pe);
      lane.progress = true;
      // ramp_width words per cycle: words left behind are looked at again next cycle (the engine must not skip it).
      if (q->output_nonempty_mask()) lane.earliest_ready = std::min(lane.earliest_ready, now + 1);
      return true;
    }
  }
  return false;
}

// Every output port of the router serves one ready colour, the RAMP up to ramp_width (round robin between the
// colours requesting it).
void RouterPhase::evaluate(Lane& lane, int pe) {
  const Cycle now = lane.now;
  Router* const routers = router_at;
  Router& r = routers[pe];
  const bool is_traced = observer && traced[pe];
  hw::PeQueues* q = queues_at[pe].get();

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
    std::uint32_t req = requests[o];
    // The RAMP serves up to ramp_width colours (each needs a free word in its input queue); other ports one.
    for (int served = 0; req && served < (o == kRamp ? ramp_width : 1); ++served) {
      if (o == kRamp && served > 0) {
        for (std::uint32_t m = req; m; m &= m - 1) {
          const Color rc = static_cast<Color>(__builtin_ctz(m));
          if (iq_room[pe][q->input_queue_of(rc)] == 0) req &= ~(1u << rc);
        }
        if (!req) break;
      }
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
        WAFERSIM_CHECK(iq_room_consistent(pe));
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
      req &= ~(1u << c);
    }
  }

  if (r.has_buffered() || (q && q->output_nonempty_mask())) activate(pe, lane.activated);
}

}  // namespace wafersim::fabric::engine
