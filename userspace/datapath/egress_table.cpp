#include "egress_table.h"

#include <arpa/inet.h>

namespace sluice {

namespace {

sl_egress_key key_of(const std::pair<uint8_t, uint32_t>& range) {
  sl_egress_key k{};
  k.prefixlen = range.first;
  k.addr = htonl(range.second);
  return k;
}

constexpr config::Ipv4Range kLoopback{0x7f000000, 8};

}  // namespace

EgressEntries egress_entries(const config::EgressPolicy& policy, const std::vector<config::Ipv4Range>& always_allowed) {
  EgressEntries out;
  if (!policy.registry_only) return out;
  out[{0, 0}] = SL_EGRESS_DENY;
  auto allow = [&](const config::Ipv4Range& r) { out[{r.prefix_len, r.net}] = SL_EGRESS_ALLOW; };
  allow(kLoopback);
  for (const auto& r : always_allowed) allow(r);
  for (const auto& r : policy.registered) allow(r);
  return out;
}

EgressTable::EgressTable(MapHandle<sl_egress_key, uint32_t> map) : map_(std::move(map)) {
  map_.for_each([&](const sl_egress_key& k, uint32_t verdict) {
    have_[{static_cast<uint8_t>(k.prefixlen), ntohl(k.addr)}] = verdict;
  });
}

Status EgressTable::put(const std::pair<uint8_t, uint32_t>& range, uint32_t verdict) {
  if (Status s = map_.update(key_of(range), verdict); !s) return s;
  have_[range] = verdict;
  return {};
}

Status EgressTable::erase(const std::pair<uint8_t, uint32_t>& range) {
  if (Status s = map_.erase(key_of(range)); !s) return s;
  have_.erase(range);
  return {};
}

Status EgressTable::sync(const EgressEntries& want) {
  Status first;  // the first failure; the other steps still run
  auto keep = [&](Status s) {
    if (!s && first) first = s;
  };
  auto stale = [&](uint32_t verdict) {
    std::vector<std::pair<uint8_t, uint32_t>> out;
    for (const auto& [range, v] : have_) {
      if (v == verdict && (!want.contains(range) || want.at(range) != verdict)) out.push_back(range);
    }
    return out;
  };
  for (const auto& [range, v] : want) {
    if (v == SL_EGRESS_ALLOW && (!have_.contains(range) || have_.at(range) != v)) keep(put(range, v));
  }
  for (const auto& range : stale(SL_EGRESS_DENY)) keep(erase(range));
  for (const auto& [range, v] : want) {
    if (v == SL_EGRESS_DENY && (!have_.contains(range) || have_.at(range) != v)) keep(put(range, v));
  }
  for (const auto& range : stale(SL_EGRESS_ALLOW)) {
    if (!want.contains(range)) keep(erase(range));
  }
  return first;
}

}  // namespace sluice
