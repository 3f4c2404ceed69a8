// The slot array of a service: backend indices repeated in proportion to
// their weights and interleaved (smooth weighted round robin), so RANDOM,
// ROUND_ROBIN and LEAST_REQUEST in the kernel honour weights by picking
// slots uniformly.
#pragma once

#include <cstdint>
#include <vector>

namespace sluice {

struct SlotWeight {
  uint32_t index;   // backend index stored in the slot
  uint32_t weight;  // 0: no slot
};

// At most max_slots slots. Weights are reduced by their GCD; if they still
// need more slots than max_slots they are scaled down (every backend with a
// non-zero weight keeps at least one slot). Backends beyond max_slots are
// dropped; the config layer rejects such services before they get here.
std::vector<uint32_t> build_slots(const std::vector<SlotWeight>& backends, uint32_t max_slots);

}  // namespace sluice
