// The input and output queues between a PE's router and its compute engine (depths per architecture), and
// the colour -> input-queue binding used when the router delivers a wavelet over the RAMP.
// Queues are allocated only for PEs that run something; idle PEs cost nothing here.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "hw/wavelet.hpp"

namespace wafersim::hw {

// Fixed-capacity FIFO of wavelets (capacity <= 8 words, the deepest queue of any preset) in one 64-byte cache
// line. Each word keeps the low 16 bits of the cycle it was pushed (the router takes an output-queue word only
// after it crossed the ramp); the fabric calls refresh_stamps() at least every kShortCycleWindow cycles, which
// keeps that exact.
class alignas(64) WaveletQueue {
 public:
  static constexpr int kMaxDepth = 8;
  WaveletQueue() = default;
  explicit WaveletQueue(int capacity) : capacity_(static_cast<std::uint8_t>(capacity)) {}

  int capacity() const { return capacity_; }
  int size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool full() const { return size_ >= capacity_; }
  Wavelet front() const { return word(head_); }
  // Whether the head was pushed at least `ramp` cycles before `now`, and if not, the cycle it will have been.
  bool front_crossed(Cycle now, Cycle ramp) const {
    return (meta_[head_] & kCrossed) || std::uint16_t(std::uint16_t(now) - stamp_[head_]) >= ramp;
  }
  Cycle front_crossing_end(Cycle now, Cycle ramp) const {
    return now - std::uint16_t(std::uint16_t(now) - stamp_[head_]) + ramp;
  }
  void push(const Wavelet& w, Cycle stamp = 0) {
    const int i = (head_ + size_) % kMaxDepth;
    payload_[i] = w.payload;
    meta_[i] = static_cast<std::uint8_t>(w.color | (w.control ? kControl : 0));
    stamp_[i] = static_cast<std::uint16_t>(stamp);
    ++size_;
  }
  Wavelet pop() {
    const Wavelet w = word(head_);
    head_ = (head_ + 1) % kMaxDepth;
    --size_;
    return w;
  }
  // Marks the words pushed at least `ramp` cycles before `now` as crossed. `base` is the cycle of the previous
  // refresh: every word not marked then was pushed at or after base - 2048 (ramp latencies are at most 1000).
  void refresh_stamps(Cycle base, Cycle now, Cycle ramp) {
    const Cycle from = base >= 2048 ? base - 2048 : 0;
    for (int k = 0, i = head_; k < size_; ++k, i = (i + 1) % kMaxDepth)
      if (!(meta_[i] & kCrossed) && unwrap_short_cycle(from, stamp_[i]) + ramp <= now) meta_[i] |= kCrossed;
  }

 private:
  // meta_: the colour in the low 5 bits, then the control and crossed flags.
  static constexpr std::uint8_t kColorMask = 0x1f, kControl = 0x20, kCrossed = 0x40;
  static_assert(kMaxColors - 1 <= kColorMask);
  Wavelet word(int i) const {
    return Wavelet{payload_[i], static_cast<Color>(meta_[i] & kColorMask), (meta_[i] & kControl) != 0};
  }
  std::array<std::uint32_t, kMaxDepth> payload_{};
  std::array<std::uint16_t, kMaxDepth> stamp_{};
  std::array<std::uint8_t, kMaxDepth> meta_{};
  std::uint8_t head_ = 0, size_ = 0, capacity_ = 0;
};
static_assert(sizeof(WaveletQueue) == 64);

// Told by PeQueues when the compute engine changes a queue, so the fabric engine can wake the router.
class QueueListener {
 public:
  virtual ~QueueListener() = default;
  virtual void on_input_popped(int pe_index, int q) = 0;  // room in IQ q: the router may deliver again
  virtual void on_output_pushed(int pe_index) = 0; // a wavelet waits in an OQ for the router
};

constexpr int kUnbound = -1;

class PeQueues {
 public:
  PeQueues(int pe_index, const std::vector<int>& iq_depths, const std::vector<int>& oq_depths,
           QueueListener* listener);

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
    if (listener_) listener_->on_input_popped(pe_index_, q);
    return w;
  }
  // The word is stamped with the agent's cycle `now`: the router takes it only after it has crossed the ramp.
  void push_output(int q, const Wavelet& w, Cycle now) {
    oq_[q].push(w, now);
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

  // Output-queue words that crossed the ramp long ago stay marked so (WaveletQueue::refresh_stamps).
  void refresh_stamps(Cycle base, Cycle now, Cycle ramp) {
    for (std::uint32_t m = oq_nonempty_; m; m &= m - 1) oq_[__builtin_ctz(m)].refresh_stamps(base, now, ramp);
  }

  std::uint32_t input_nonempty_mask() const { return iq_nonempty_; }    // bit q: IQ q holds words
  std::uint32_t output_nonempty_mask() const { return oq_nonempty_; }   // bit q: OQ q holds words

 private:
  // One allocation per PE, hot fields in the first cache line (the router reads the masks and the colour binding
  // every cycle), then one line per queue.
  std::uint32_t iq_nonempty_ = 0, oq_nonempty_ = 0;
  int pe_index_;
  QueueListener* listener_;
  std::array<std::int8_t, kMaxColors> color_to_iq_;
  std::uint8_t num_iq_ = 0, num_oq_ = 0;
  std::array<WaveletQueue, kMaxQueues> iq_, oq_;
};

}  // namespace wafersim::hw
