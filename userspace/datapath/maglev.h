// Maglev consistent-hash table (Eisenbud et al., NSDI'16) with weights: each
// backend fills table positions along its own permutation, and a backend of
// weight w takes w/max_weight of the turns, so its share of the table follows
// its weight. Deterministic for a given backend set.
#pragma once

#include <cstdint>
#include <vector>

#include "prime.h"  // is_prime: Maglev needs a prime table size

namespace sluice {

struct MaglevEntry {
  uint64_t identity;  // stable per backend: endpoint_key(addr, port)
  uint32_t weight;    // > 0
  uint32_t value;     // what the table stores for this backend
};

// Builds a table of `size` entries (size must be prime and at least the
// number of entries). Returns an empty table when entries is empty.
std::vector<uint32_t> build_maglev_table(const std::vector<MaglevEntry>& entries, uint32_t size);

}  // namespace sluice
