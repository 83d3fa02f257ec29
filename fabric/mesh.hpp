// The per-PE state of the mesh, in PE order (index y * width + x): routers, the compute engine's queues and SRAM
// (allocated on first use) and the agent behind each RAMP. Every phase of the engine reads it; the public API
// (fabric.hpp) hands out references into it.
#pragma once
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "hw/pe_agent.hpp"
#include "hw/pe_queues.hpp"
#include "hw/router.hpp"
#include "hw/sram.hpp"

namespace wafersim::fabric {

// "PE(x,y)", as errors and reports name a PE.
inline std::string pe_name(int x, int y) { return "PE(" + std::to_string(x) + "," + std::to_string(y) + ")"; }

struct Mesh {
  Mesh(int width, int height);
  int width, height;
  std::vector<hw::Router> routers;
  std::vector<std::unique_ptr<hw::PeQueues>> queues;
  std::vector<std::unique_ptr<hw::Sram>> srams;
  std::vector<hw::PeAgent*> agents;  // not owned

  int num_pes() const { return width * height; }
};

inline Mesh::Mesh(int w, int h) : width(w), height(h) {
  const std::size_t n = std::size_t(w) * h;
  routers.resize(n);
  queues.resize(n);
  srams.resize(n);
  agents.assign(n, nullptr);
}

}  // namespace wafersim::fabric
