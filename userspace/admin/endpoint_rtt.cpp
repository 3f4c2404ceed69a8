#include "endpoint_rtt.h"

#include <arpa/inet.h>

#include <unordered_map>

namespace sluice {

namespace {

uint64_t endpoint_key(uint32_t ip, uint16_t port) { return uint64_t{ip} << 16 | port; }

}  // namespace

void EndpointRtt::drain(const config::MeshSnapshot& snap) {
  std::vector<std::pair<sl_svc_key, sl_svc_rtt>> drained;
  for (const sl_svc_key& k : map_.keys()) {
    if (k.proto != SL_RTT_PROTO_ENDPOINT) continue;
    sl_svc_rtt v{};
    // Read and delete in one step: a close that lands between would be lost.
    if (bpf_map_lookup_and_delete_elem(map_.fd(), &k, &v) == 0) drained.emplace_back(k, v);
  }
  if (drained.empty()) return;
  // Endpoint -> the service ports that have it.
  std::unordered_multimap<uint64_t, std::pair<uint32_t, uint16_t>> owners;
  for (const auto& [fqdn, svc] : snap.services) {
    if (!svc->vip) continue;
    for (const auto& port : svc->ports) {
      for (const auto& ep : port.endpoints) owners.emplace(endpoint_key(ep.ip, ep.port), std::pair{svc->vip, port.port});
    }
  }
  const std::lock_guard lock(mu_);
  for (const auto& [k, v] : drained) {
    const auto [first, last] = owners.equal_range(endpoint_key(ntohl(k.vip), ntohs(k.port)));
    for (auto it = first; it != last; ++it) {
      telemetry::ServiceRtt& t = totals_[it->second];
      t.vip = it->second.first;
      t.port = it->second.second;
      for (size_t i = 0; i < t.buckets.size(); ++i) t.buckets[i] += v.buckets[i];
      t.rtt_us_sum += v.rtt_us_sum;
      t.retransmits += v.retransmits;
      t.retransmitting += v.retransmitting;
    }
  }
}

std::vector<telemetry::ServiceRtt> EndpointRtt::totals() const {
  const std::lock_guard lock(mu_);
  std::vector<telemetry::ServiceRtt> out;
  for (const auto& [key, t] : totals_) out.push_back(t);
  return out;
}

}  // namespace sluice
