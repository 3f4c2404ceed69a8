#include "xdp_vip_filter.h"

#include "xdp_lb_logic.h"

#include <cstring>

namespace sluice {
namespace {

uint64_t packed(const sl_xvip_key& key) {
  uint64_t p = 0;
  static_assert(sizeof p == sizeof key);
  std::memcpy(&p, &key, sizeof p);
  return p;
}

}  // namespace

uint32_t XdpVipFilter::bit_of(const sl_xvip_key& key) { return lb4_vip_filter_bit(key.addr, key.port, key.proto); }

XdpFilterWord XdpVipFilter::word_of(uint32_t bit) const {
  XdpFilterWord w{bit / 64, 0};
  for (auto it = keys_per_bit_.lower_bound(w.index * 64); it != keys_per_bit_.end() && it->first / 64 == w.index; ++it) {
    w.bits |= uint64_t{1} << (it->first % 64);
  }
  return w;
}

std::optional<XdpFilterWord> XdpVipFilter::add(const sl_xvip_key& key) {
  if (!keys_.insert(packed(key)).second) return std::nullopt;
  const uint32_t bit = bit_of(key);
  if (keys_per_bit_[bit]++ > 0) return std::nullopt;
  return word_of(bit);
}

std::optional<XdpFilterWord> XdpVipFilter::remove(const sl_xvip_key& key) {
  if (keys_.erase(packed(key)) == 0) return std::nullopt;
  const uint32_t bit = bit_of(key);
  auto it = keys_per_bit_.find(bit);
  if (--it->second > 0) return std::nullopt;
  keys_per_bit_.erase(it);
  return word_of(bit);
}

std::map<uint32_t, uint64_t> XdpVipFilter::words() const {
  std::map<uint32_t, uint64_t> out;
  for (const auto& [bit, n] : keys_per_bit_) out[bit / 64] |= uint64_t{1} << (bit % 64);
  return out;
}

}  // namespace sluice
