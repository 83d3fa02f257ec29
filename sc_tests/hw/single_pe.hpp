// Test harness: one compute engine with its own SRAM and queues, stepped by hand (no fabric). Tests push wavelets
// into input queues and pop output queues themselves, as the router would.
#pragma once
#include <stdexcept>

#include "firmware/csl/program.hpp"
#include "hw/arch_params.hpp"
#include "hw/compute_engine.hpp"
#include "hw/pe_queues.hpp"
#include "hw/sram.hpp"

namespace wafersim::test {

struct SinglePe {
  hw::ArchParams arch;
  hw::Sram sram;
  hw::PeQueues queues;
  hw::ComputeEngine ce;
  hw::Cycle now = 0;   // cycle of the last step
  hw::Cycle next = 0;  // what the CE asked for after it

  explicit SinglePe(bool functional = true, hw::ArchParams a = {}, int x = 0, int y = 0)
      : arch(std::move(a)),
        sram(arch.pe.sram_bytes, arch.pe.code_reserve_bytes, functional),
        queues(0, arch.queues.input_depths, arch.queues.output_depths, nullptr),
        ce(arch, x, y, sram, queues) {}

  void load(csl::Program& p) { p.attach(ce); }
  // One step at cycle t (t >= now).
  hw::Cycle step(hw::Cycle t) {
    now = t;
    next = ce.step(t, queues);
    return next;
  }
  // Steps at every cycle the CE asks for until it sleeps (kNever) or passes `limit`; returns the last step's cycle.
  hw::Cycle run(hw::Cycle limit = 1000000) {
    step(now);
    while (next != hw::kNever && next <= limit) step(next);
    return now;
  }
  // Delivers a wavelet as the router would (the colour must be bound to input queue `iq`).
  void push(int iq, hw::Color c, std::uint32_t payload, bool control = false) {
    if (queues.input_queue_of(c) != iq) throw std::logic_error("test: colour not bound to that input queue");
    queues.deliver(hw::Wavelet{payload, c, control});
  }
};

}  // namespace wafersim::test
