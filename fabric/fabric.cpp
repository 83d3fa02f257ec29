// The public API of the engine (construction, layout, the PEs' state, agents) and the run loop: pick the next
// cycle at which anything can happen, watch for deadlock, step a cycle or a block of cycles.
#include "fabric/fabric.hpp"

#include <algorithm>
#include <stdexcept>

#include "common/error.hpp"
#include "common/huge_pages.hpp"
#include "fabric/engine.hpp"

namespace wafersim::fabric {

using hw::kNever;

namespace {
constexpr int kHugePagesMinPes = 128 * 128;

// The mesh's width, once the size is known to fit the architecture (before anything is allocated).
int checked_width(const hw::ArchParams& arch, int width, int height) {
  if (width < 1 || height < 1)
    throw ConfigError("mesh " + std::to_string(width) + "x" + std::to_string(height) +
                      ": width and height must be at least 1");
  if (width > arch.fabric.width || height > arch.fabric.height)
    throw ConfigError("mesh " + std::to_string(width) + "x" + std::to_string(height) + " does not fit the " +
                      arch.name + " fabric of " + std::to_string(arch.fabric.width) + "x" +
                      std::to_string(arch.fabric.height) + " PEs");
  return width;
}
}  // namespace

Fabric::Fabric(const hw::ArchParams& arch, int width, int height, DataMode mode)
    : arch_(arch), mode_(mode), mesh_(checked_width(arch, width, height), height) {
  for (auto& r : mesh_.routers) r.set_depth(arch.router.color_buffer_depth);
  impl_ = std::make_unique<engine::Engine>(mesh_, arch_);
}

Fabric::~Fabric() = default;

const hw::ColorConfig& Fabric::color_config(int x, int y, Color c) const {
  static const hw::ColorConfig none;
  const hw::ColorConfig* cfg = mesh_.routers[index(x, y)].color_config(c);
  return cfg ? *cfg : none;
}

void Fabric::reconfigure_color(int x, int y, Color c, const hw::ColorConfig& cfg) {
  check_not_isolated(x, y, "reconfigure_color");
  mesh_.routers[index(x, y)].set_color_config(c, cfg);
}

void Fabric::exit_teardown(int x, int y, Color c) {
  check_not_isolated(x, y, "exit_teardown");
  mesh_.routers[index(x, y)].exit_teardown(c);
  impl_->routers.activate(index(x, y), impl_->routers.next_active);
  impl_->any_ready = true;
  impl_->frozen = false;
}

hw::PeQueues& Fabric::queues(int x, int y) {
  auto& q = mesh_.queues[index(x, y)];
  if (!q) {
    q = std::make_unique<hw::PeQueues>(index(x, y), arch_.queues.input_depths, arch_.queues.output_depths,
                                       static_cast<hw::QueueListener*>(this));
    for (int i = 0; i < q->num_input_queues(); ++i)
      impl_->routers.iq_room[index(x, y)][i] = std::uint8_t(q->iq(i).capacity());
  }
  return *q;
}

hw::Sram& Fabric::sram(int x, int y) {
  auto& s = mesh_.srams[index(x, y)];
  if (!s) s = std::make_unique<hw::Sram>(arch_.pe.sram_bytes, arch_.pe.code_reserve_bytes, mode_ == DataMode::Functional);
  return *s;
}

void Fabric::attach_agent(int x, int y, hw::PeAgent* agent, Cycle start) {
  const int pe = index(x, y);
  impl_->agents.attach(mesh_, pe, agent);
  queues(x, y);
  wake(pe, start);
}

// Isolated agents step concurrently (or, with one thread, in PE order, which must give the same outcome): they may
// not change a router.
void Fabric::check_not_isolated(int x, int y, const char* what) const {
  const engine::AgentSchedule& a = impl_->agents;
  if (a.in_agent_phase && a.all_isolated())
    throw std::logic_error("PE(" + std::to_string(x) + "," + std::to_string(y) + "): " + what +
                           " called by an isolated agent (a compute engine changes its router only from a teardown "
                           "handler; see hw::PeAgent::isolated)");
}

void Fabric::wake(int pe, Cycle at) {
  engine::AgentSchedule& a = impl_->agents;
  if (engine::AgentSchedule::tls_lane)
    throw std::logic_error("Fabric::wake called by an isolated agent (see hw::PeAgent::isolated)");
  if (a.in_agent_phase && at <= now_) at = now_ + 1;
  at = std::max(at, a.horizon);
  if (a.next_wake[pe] <= at) return;  // an earlier step is already due; the agent re-evaluates then
  a.next_wake[pe] = at;
  a.schedule(pe, at);
}

// Queue events come from agents (after the router phase): the router must look again next cycle.
void Fabric::on_input_popped(int pe, int q) {
  ++impl_->routers.iq_room[pe][q];
  on_output_pushed(pe);
}
void Fabric::on_output_pushed(int pe) {
  if (engine::Lane* lane = engine::AgentSchedule::tls_lane) {  // an isolated agent stepping on a host thread
    impl_->routers.activate(pe, lane->activated);
    lane->queue_events = true;
    return;
  }
  impl_->routers.activate(pe, impl_->routers.next_active);
  impl_->any_ready = true;
  impl_->frozen = false;
}

void Fabric::set_observer(LinkObserver* obs, const std::vector<int>& traced_pes) {
  impl_->routers.observer = obs;
  impl_->routers.traced.assign(mesh_.routers.size(), 0);
  for (int pe : traced_pes) impl_->routers.traced.at(pe) = 1;
}

Cycle Fabric::next_event() const {
  const engine::Engine& m = *impl_;
  const Cycle horizon = m.agents.horizon;
  Cycle t = kNever;
  if (m.pending_activations() > 0) {
    if (m.any_ready && !m.frozen) t = horizon;
    else if (m.earliest_ready != kNever) t = std::max(m.earliest_ready, horizon);
  }
  if (m.ramp.pending()) t = std::min(t, std::max(m.ramp.next(), horizon));
  if (m.agents.has_wakes()) t = std::min(t, std::max(m.agents.earliest_wake(), horizon));
  return t;
}

bool Fabric::idle() const {
  const engine::Engine& m = *impl_;
  if (m.pending_activations() > 0 || m.ramp.pending() || m.agents.has_wakes()) return false;
  for (int pe : m.agents.agent_pes)
    if (mesh_.agents[pe]->busy()) return false;
  return true;
}

void Fabric::step(Cycle last) {
  if (const int k = engine::CycleBlocks::length(*impl_, now_, last); k > 1) step_block(k);
  else step_cycle();
}

void Fabric::prepare() {
  if (!impl_->validated) {
    validate_routes();
    impl_->validated = true;
    // Layout is done: give every router's side arrays fresh allocations in PE order (all new ones first, then
    // the old ones go), so that each router's state is contiguous and neighbours sit close in memory. Routers a
    // layout reserved in PE order (reserve_colors) are in place already: no second copy at peak memory.
    std::vector<hw::Router::Storage> old;
    old.reserve(mesh_.routers.size());
    for (auto& r : mesh_.routers)
      if (!r.colors().empty()) old.push_back(r.repack());
    old.clear();
    // Every cycle walks this state: on meshes whose state outgrows the TLB's reach with 4 KiB pages, 2 MiB pages
    // spare most TLB misses (a host hint only; costs ~5 ms per MiB of state at elaboration).
    if (arch_.simulation.huge_pages && num_pes() >= kHugePagesMinPes) back_large_memory_with_huge_pages();
  }
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
  const Cycle start = impl_->agents.horizon;
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

}  // namespace wafersim::fabric
