// The host's path into the wafer's memories as TLM-2.0: a device-side target socket that decodes (PE, SRAM offset)
// addresses onto each PE's hw::Sram (b_transport, and DMI straight into the SRAM bytes), and a host-side initiator
// that moves buffers with DMI when granted and b_transport otherwise. Loosely timed: a transaction carries the delay
// the caller annotates (the timed memcpy model lives in device.hpp). Not modelled: the memcpy framework's support
// PEs and the I/O wavelets on the reserved colours (their cost is the analytic model, not simulated traffic).
#pragma once
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <cstdint>
#include <vector>

#include "fabric/transport.hpp"

namespace wafersim::runtime {

// Address of byte `offset` of PE `pe`'s SRAM (pe = fabric.index(x, y)).
constexpr std::uint64_t kPeAddressShift = 24;  // 16 MiB window per PE (SRAM is 48 KiB)
constexpr std::uint64_t pe_address(int pe, std::uint32_t offset) {
  return (std::uint64_t(pe) << kPeAddressShift) | offset;
}

class DeviceMemoryTarget : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<DeviceMemoryTarget> socket;
  DeviceMemoryTarget(sc_core::sc_module_name name, fabric::Transport& fabric);
  const char* kind() const override { return "wafersim_device_memory"; }
  std::uint64_t transactions() const { return transactions_; }
  std::uint64_t dmi_grants() const { return dmi_grants_; }

 private:
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  bool get_direct_mem_ptr(tlm::tlm_generic_payload& trans, tlm::tlm_dmi& dmi);
  bool decode(std::uint64_t addr, std::uint32_t len, int& pe, std::uint32_t& offset) const;

  fabric::Transport& fabric_;
  std::uint64_t transactions_ = 0, dmi_grants_ = 0;
};

class HostMemoryInitiator : public sc_core::sc_module {
 public:
  tlm_utils::simple_initiator_socket<HostMemoryInitiator> socket;
  explicit HostMemoryInitiator(sc_core::sc_module_name name);
  const char* kind() const override { return "wafersim_host"; }

  // Reads or writes `len` bytes at `addr`; throws std::runtime_error on a TLM error response. `delay` is annotated.
  void transfer(tlm::tlm_command cmd, std::uint64_t addr, std::uint8_t* data, std::uint32_t len,
                sc_core::sc_time& delay);
  bool use_dmi = true;
  std::uint64_t dmi_accesses() const { return dmi_accesses_; }

 private:
  void invalidate_direct_mem_ptr(sc_dt::uint64 start, sc_dt::uint64 end);
  std::vector<tlm::tlm_dmi> dmi_;  // granted regions
  std::uint64_t dmi_accesses_ = 0;
};

}  // namespace wafersim::runtime
