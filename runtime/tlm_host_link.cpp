#include "runtime/tlm_host_link.hpp"

#include <cstring>
#include <stdexcept>
#include <string>

namespace wafersim::runtime {

DeviceMemoryTarget::DeviceMemoryTarget(sc_core::sc_module_name name, fabric::Transport& fabric)
    : sc_module(name), socket("socket"), fabric_(fabric) {
  socket.register_b_transport(this, &DeviceMemoryTarget::b_transport);
  socket.register_get_direct_mem_ptr(this, &DeviceMemoryTarget::get_direct_mem_ptr);
}

bool DeviceMemoryTarget::decode(std::uint64_t addr, std::uint32_t len, int& pe, std::uint32_t& offset) const {
  pe = int(addr >> kPeAddressShift);
  offset = std::uint32_t(addr & ((std::uint64_t(1) << kPeAddressShift) - 1));
  if (pe < 0 || pe >= fabric_.num_pes()) return false;
  return std::uint64_t(offset) + len <= fabric_.arch().pe.sram_bytes;
}

void DeviceMemoryTarget::b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  ++transactions_;
  int pe;
  std::uint32_t offset;
  if (trans.get_byte_enable_ptr() || trans.get_streaming_width() < trans.get_data_length()) {
    trans.set_response_status(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
    return;
  }
  if (!decode(trans.get_address(), trans.get_data_length(), pe, offset)) {
    trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  hw::Sram& sram = fabric_.sram(pe % fabric_.width(), pe / fabric_.width());
  if (trans.is_read()) sram.read(offset, trans.get_data_ptr(), trans.get_data_length());
  else if (trans.is_write()) sram.write(offset, trans.get_data_ptr(), trans.get_data_length());
  trans.set_dmi_allowed(sram.functional());
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

bool DeviceMemoryTarget::get_direct_mem_ptr(tlm::tlm_generic_payload& trans, tlm::tlm_dmi& dmi) {
  int pe;
  std::uint32_t offset;
  if (!decode(trans.get_address(), 0, pe, offset)) return false;
  hw::Sram& sram = fabric_.sram(pe % fabric_.width(), pe / fabric_.width());
  std::uint8_t* bytes = sram.data();
  if (!bytes) return false;  // timing-only: no contents to point at
  dmi.set_dmi_ptr(bytes);
  dmi.set_start_address(pe_address(pe, 0));
  dmi.set_end_address(pe_address(pe, sram.capacity() - 1));
  dmi.allow_read_write();
  dmi.set_read_latency(sc_core::SC_ZERO_TIME);
  dmi.set_write_latency(sc_core::SC_ZERO_TIME);
  ++dmi_grants_;
  return true;
}

HostMemoryInitiator::HostMemoryInitiator(sc_core::sc_module_name name) : sc_module(name), socket("socket") {
  socket.register_invalidate_direct_mem_ptr(this, &HostMemoryInitiator::invalidate_direct_mem_ptr);
}

void HostMemoryInitiator::invalidate_direct_mem_ptr(sc_dt::uint64 start, sc_dt::uint64 end) {
  std::erase_if(dmi_, [&](const tlm::tlm_dmi& d) { return d.get_start_address() <= end && d.get_end_address() >= start; });
}

void HostMemoryInitiator::transfer(tlm::tlm_command cmd, std::uint64_t addr, std::uint8_t* data, std::uint32_t len,
                                   sc_core::sc_time& delay) {
  if (use_dmi) {
    for (const tlm::tlm_dmi& d : dmi_) {
      if (addr < d.get_start_address() || addr + len - 1 > d.get_end_address()) continue;
      std::uint8_t* p = d.get_dmi_ptr() + (addr - d.get_start_address());
      if (cmd == tlm::TLM_READ_COMMAND) std::memcpy(data, p, len);
      else std::memcpy(p, data, len);
      ++dmi_accesses_;
      return;
    }
  }
  tlm::tlm_generic_payload trans;
  trans.set_command(cmd);
  trans.set_address(addr);
  trans.set_data_ptr(data);
  trans.set_data_length(len);
  trans.set_streaming_width(len);
  trans.set_byte_enable_ptr(nullptr);
  trans.set_dmi_allowed(false);
  trans.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  socket->b_transport(trans, delay);
  if (trans.is_response_error())
    throw std::runtime_error("host memcpy at PE " + std::to_string(addr >> kPeAddressShift) + " offset " +
                             std::to_string(addr & 0xffffff) + " (" + std::to_string(len) +
                             " bytes): " + trans.get_response_string());
  if (use_dmi && trans.is_dmi_allowed()) {
    tlm::tlm_dmi dmi;
    trans.set_address(addr);
    if (socket->get_direct_mem_ptr(trans, dmi)) dmi_.push_back(dmi);
  }
}

}  // namespace wafersim::runtime
