// The input and output queues between a PE's router and its compute engine (depths per architecture), and
// the colour -> input-queue binding used when the router delivers a wavelet over the RAMP.
// Queues are allocated only for PEs that run something; idle PEs cost nothing here.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "hw/wavelet.hpp"

namespace wafersim::hw {

// Fixed-capacity FIFO of wavelets (capacity <= 8 words, the deepest queue of any preset).
class WaveletQueue {
 public:
  static constexpr int kMaxDepth = 8;
  WaveletQueue() = default;
  explicit WaveletQueue(int capacity) : capacity_(capacity) {}

  int capacity() const { return capacity_; }
  int size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool full() const { return size_ >= capacity_; }
  const Wavelet& front() const { return slots_[head_]; }
  Cycle front_stamp() const { return stamps_[head_]; }  // cycle the head was pushed
  void push(const Wavelet& w, Cycle stamp = 0) {
    slots_[(head_ + size_) % kMaxDepth] = w;
    stamps_[(head_ + size_) % kMaxDepth] = stamp;
    ++size_;
  }
  Wavelet pop() {
    Wavelet w = slots_[head_];
    head_ = (head_ + 1) % kMaxDepth;
    --size_;
    return w;
  }

 private:
  // Counters first: the room check and a push or pop of the first words touch one cache line.
  std::uint8_t head_ = 0, size_ = 0, capacity_ = 0;
  std::array<Wavelet, kMaxDepth> slots_{};
  std::array<Cycle, kMaxDepth> stamps_{};
};

// Told by PeQueues when the compute engine changes a queue, so the fabric engine can wake the router.
class QueueListener {
 public:
  virtual ~QueueListener() = default;
  virtual void on_input_popped(int pe_index) = 0;  // room in an IQ: the router may deliver again
  virtual void on_output_pushed(int pe_index) = 0; // a wavelet waits in an OQ for the router
};

constexpr int kUnbound = -1;

class PeQueues {
 public:
  // `clock` points at the current cycle (the fabric's), used to stamp words pushed into output queues: the
  // router takes a word only after it has crossed the ramp.
  PeQueues(int pe_index, const std::vector<int>& iq_depths, const std::vector<int>& oq_depths,
           QueueListener* listener, const Cycle* clock = nullptr);

  static constexpr int kMaxQueues = 8;
  int num_input_queues() const { return num_iq_; }
  int num_output_queues() const { return num_oq_; }
  WaveletQueue& iq(int q) { return iq_[q]; }
  WaveletQueue& oq(int q) { return oq_[q]; }
  const WaveletQueue& iq(int q) const { return iq_[q]; }
  const WaveletQueue& oq(int q) const { return oq_[q]; }

  // Wavelets the router delivers on colour c go into input queue q (kUnbound: none; such wavelets wait in
  // the router and back-pressure, and a deadlock report names them).
  void bind_input_queue(int q, Color c);
  int input_queue_of(Color c) const { return color_to_iq_[c]; }

  // Compute-engine side (notifies the listener).
  Wavelet pop_input(int q) {
    Wavelet w = iq_[q].pop();
    if (iq_[q].empty()) iq_nonempty_ &= ~(1u << q);
    if (listener_) listener_->on_input_popped(pe_index_);
    return w;
  }
  void push_output(int q, const Wavelet& w) {
    oq_[q].push(w, clock_ ? *clock_ : 0);
    oq_nonempty_ |= 1u << q;
    if (listener_) listener_->on_output_pushed(pe_index_);
  }

  // Router side.
  void deliver(const Wavelet& w) {
    const int q = color_to_iq_[w.color];
    iq_[q].push(w);
    iq_nonempty_ |= 1u << q;
  }
  Wavelet pop_output(int q) {
    Wavelet w = oq_[q].pop();
    if (oq_[q].empty()) oq_nonempty_ &= ~(1u << q);
    return w;
  }

  std::uint32_t input_nonempty_mask() const { return iq_nonempty_; }    // bit q: IQ q holds words
  std::uint32_t output_nonempty_mask() const { return oq_nonempty_; }   // bit q: OQ q holds words

 private:
  // One allocation per PE, hot fields first (the router reads the masks and the colour binding every cycle).
  std::uint32_t iq_nonempty_ = 0, oq_nonempty_ = 0;
  int pe_index_;
  QueueListener* listener_;
  const Cycle* clock_;
  std::array<std::int8_t, kMaxColors> color_to_iq_;
  std::uint8_t num_iq_ = 0, num_oq_ = 0;
  std::array<WaveletQueue, kMaxQueues> iq_, oq_;
};

}  // namespace wafersim::hw
