// Wavelets crossing the RAMP from a router into its compute engine's input queues, in arrival order. Internal to
// the fabric engine.
#pragma once
#include <cstddef>
#include <utility>
#include <vector>

#include "common/check.hpp"
#include "fabric/lane.hpp"

namespace wafersim::fabric::engine {

struct RampDeliveries {
  // Invariant: the list is sorted by arrival cycle, and the wavelets arriving in one cycle are in PE order. The
  // RAMP latency is constant, so a wavelet sent later arrives later; a cycle's sends are appended lane by lane
  // (lanes are in PE order). The agent phase relies on it (the due deliveries are a prefix of the list, searched
  // by PE with a binary search).
  std::vector<Delivery> list;
  std::size_t head = 0;  // deliveries before it have arrived (or arrive in the cycle being simulated)

  bool pending() const { return head < list.size(); }
  Cycle next() const { return list[head].at; }

  // A cycle's (or a block's) RAMP sends, in PE order, sent in one cycle after all those already listed.
  void append(const std::vector<Delivery>& sent) {
    if (sent.empty()) return;
    WAFERSIM_CHECK(list.empty() || list.back().at < sent.front().at ||
                   (list.back().at == sent.front().at && list.back().pe < sent.front().pe));
    list.insert(list.end(), sent.begin(), sent.end());
  }
  // Takes the deliveries arriving at or before `now` off the list: list[first, second).
  std::pair<std::size_t, std::size_t> take_due(Cycle now) {
    const std::size_t first = head;
    while (head < list.size() && list[head].at <= now) ++head;
    return {first, head};
  }
  void compact() {  // drops the delivered head of the list once it is most of it
    if (head >= 4096 && 2 * head >= list.size()) {
      list.erase(list.begin(), list.begin() + std::ptrdiff_t(head));
      head = 0;
    }
  }
};

}  // namespace wafersim::fabric::engine
