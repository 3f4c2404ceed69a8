// The XDP program's VIP prefilter (map sl_xvip_filt): bit
// lb4_vip_filter_bit(key) is set for every VIP key, so a packet to no VIP
// passes after one array read. Keys may share a bit: each bit counts its
// keys, and only a word whose bits changed needs writing. Adding a key twice
// (or removing an absent one) changes nothing.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>

#include "xdp_lb_types.h"

namespace sluice {

struct XdpFilterWord {
  uint32_t index = 0;
  uint64_t bits = 0;
  bool operator==(const XdpFilterWord&) const = default;
};

class XdpVipFilter {
 public:
  // Counts the key in (out of) its bit; returns the word to write when the
  // bit flipped.
  std::optional<XdpFilterWord> add(const sl_xvip_key& key);
  std::optional<XdpFilterWord> remove(const sl_xvip_key& key);

  // Every word with a bit set.
  std::map<uint32_t, uint64_t> words() const;

  static uint32_t bit_of(const sl_xvip_key& key);

 private:
  XdpFilterWord word_of(uint32_t bit) const;

  std::set<uint64_t> keys_;  // packed sl_xvip_key
  std::map<uint32_t, uint32_t> keys_per_bit_;
};

}  // namespace sluice
