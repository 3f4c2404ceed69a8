#include "slot_builder.h"

#include <algorithm>
#include <numeric>

namespace sluice {

std::vector<uint32_t> build_slots(const std::vector<SlotWeight>& backends, uint32_t max_slots) {
  std::vector<SlotWeight> live;
  for (const SlotWeight& b : backends) {
    if (b.weight > 0 && live.size() < max_slots) live.push_back(b);
  }
  if (live.empty()) return {};

  uint64_t g = 0;
  for (const SlotWeight& b : live) g = std::gcd(g, uint64_t{b.weight});
  uint64_t total = 0;
  for (SlotWeight& b : live) {
    b.weight = static_cast<uint32_t>(b.weight / g);
    total += b.weight;
  }
  if (total > max_slots) {
    // Scale down so the sum fits. Every backend keeps at least one slot,
    // which can overshoot; then trim the heaviest until it fits (there are
    // at most max_slots backends, so it always does).
    uint64_t scaled = 0;
    for (SlotWeight& b : live) {
      b.weight = static_cast<uint32_t>(std::max<uint64_t>(1, uint64_t{b.weight} * max_slots / total));
      scaled += b.weight;
    }
    for (; scaled > max_slots; --scaled) {
      std::max_element(live.begin(), live.end(), [](const SlotWeight& a, const SlotWeight& b) {
        return a.weight < b.weight;
      })->weight--;
    }
    total = scaled;
  }

  // Smooth weighted round robin (as in nginx): each step every backend gains
  // its weight, the richest is emitted and pays the total.
  std::vector<int64_t> current(live.size(), 0);
  std::vector<uint32_t> slots;
  slots.reserve(total);
  for (uint64_t step = 0; step < total; ++step) {
    size_t best = 0;
    for (size_t i = 0; i < live.size(); ++i) {
      current[i] += live[i].weight;
      if (current[i] > current[best]) best = i;
    }
    current[best] -= static_cast<int64_t>(total);
    slots.push_back(live[best].index);
  }
  return slots;
}

}  // namespace sluice
