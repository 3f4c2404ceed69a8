// Primality for table sizes: Maglev needs a prime table size, and config
// validation rejects a DestinationRule asking for another one.
#pragma once

#include <cstdint>

namespace sluice {

// True when n is prime.
inline bool is_prime(uint64_t n) {
  if (n < 2) return false;
  if (n % 2 == 0) return n == 2;
  for (uint64_t d = 3; d * d <= n; d += 2) {
    if (n % d == 0) return false;
  }
  return true;
}

}  // namespace sluice
