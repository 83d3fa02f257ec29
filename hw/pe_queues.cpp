#include "hw/pe_queues.hpp"

#include <stdexcept>
#include <string>

namespace wafersim::hw {

PeQueues::PeQueues(int pe_index, const std::vector<int>& iq_depths, const std::vector<int>& oq_depths,
                   QueueListener* listener, const Cycle* clock)
    : pe_index_(pe_index), listener_(listener), clock_(clock) {
  for (int d : iq_depths) iq_.emplace_back(d);
  for (int d : oq_depths) oq_.emplace_back(d);
  color_to_iq_.fill(kUnbound);
}

void PeQueues::bind_input_queue(int q, Color c) {
  if (q != kUnbound && (q < 0 || q >= num_input_queues()))
    throw std::out_of_range("input queue " + std::to_string(q) + " does not exist (this architecture has " +
                            std::to_string(num_input_queues()) + ")");
  if (c >= kMaxColors) throw std::out_of_range("colour " + std::to_string(c) + " out of range");
  color_to_iq_[c] = static_cast<std::int8_t>(q);
}

Wavelet PeQueues::pop_input(int q) {
  Wavelet w = iq_[q].pop();
  if (iq_[q].empty()) iq_nonempty_ &= ~(1u << q);
  if (listener_) listener_->on_input_popped(pe_index_);
  return w;
}

void PeQueues::push_output(int q, const Wavelet& w) {
  oq_[q].push(w, clock_ ? *clock_ : 0);
  oq_nonempty_ |= 1u << q;
  if (listener_) listener_->on_output_pushed(pe_index_);
}

}  // namespace wafersim::hw
