#include "request_id.h"

#include <cstdint>

namespace sluice::proxy {

void new_request_id(std::minstd_rand& rng, std::array<char, 36>& id) {
  static constexpr char kHex[] = "0123456789abcdef";
  id.fill('-');
  // Seven hex digits from each 31-bit draw.
  uint32_t bits = 0;
  int left = 0;
  for (size_t i = 0; i < id.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;
    if (left == 0) {
      bits = static_cast<uint32_t>(rng());
      left = 7;
    }
    id[i] = kHex[bits & 15];
    bits >>= 4;
    --left;
  }
  id[14] = '4';
}

}  // namespace sluice::proxy
