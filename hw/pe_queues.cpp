#include "hw/pe_queues.hpp"

#include <stdexcept>
#include <string>

namespace wafersim::hw {

PeQueues::PeQueues(int pe_index, const std::vector<int>& iq_depths, const std::vector<int>& oq_depths,
                   QueueListener* listener)
    : pe_index_(pe_index), listener_(listener) {
  if (iq_depths.size() > std::size_t(kMaxQueues) || oq_depths.size() > std::size_t(kMaxQueues))
    throw std::out_of_range("at most " + std::to_string(kMaxQueues) + " input and output queues are supported");
  for (int d : iq_depths) iq_[num_iq_++] = WaveletQueue(d);
  for (int d : oq_depths) oq_[num_oq_++] = WaveletQueue(d);
  color_to_iq_.fill(kUnbound);
}

void PeQueues::bind_input_queue(int q, Color c) {
  if (q != kUnbound && (q < 0 || q >= num_input_queues()))
    throw std::out_of_range("input queue " + std::to_string(q) + " does not exist (this architecture has " +
                            std::to_string(num_input_queues()) + ")");
  if (c >= kMaxColors) throw std::out_of_range("colour " + std::to_string(c) + " out of range");
  color_to_iq_[c] = static_cast<std::int8_t>(q);
}

}  // namespace wafersim::hw
