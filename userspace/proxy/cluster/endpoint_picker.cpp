#include "endpoint_picker.h"

#include "lb_select.h"
#include "maglev.h"

namespace sluice::proxy {

namespace {

const config::Subset* find_subset(const config::Service& service, std::string_view subset) {
  for (const config::Subset& s : service.subsets) {
    if (s.name == subset) return &s;
  }
  return nullptr;
}

}  // namespace

std::vector<const config::Endpoint*> subset_endpoints(const config::Service& service,
                                                      const config::ServicePort& port, std::string_view subset) {
  std::vector<const config::Endpoint*> out;
  const config::Subset* s = subset.empty() ? nullptr : find_subset(service, subset);
  for (const config::Endpoint& e : port.endpoints) {
    bool match = true;
    if (s) {
      for (const auto& [k, v] : s->labels) {
        auto it = e.label_map().find(k);
        if (it == e.label_map().end() || it->second != v) {
          match = false;
          break;
        }
      }
    }
    if (match) out.push_back(&e);
  }
  return out;
}

config::ResolvedPolicy subset_policy(const config::Service& service, const config::ServicePort& port,
                                     std::string_view subset) {
  const config::Subset* s = subset.empty() ? nullptr : find_subset(service, subset);
  if (!s || !s->policy) return port.policy;
  return config::resolve_policy(service.policy, s->policy, port.port);
}

const config::Endpoint* EndpointPicker::pick(const std::string& key,
                                             const std::vector<const config::Endpoint*>& endpoints,
                                             const config::LoadBalancerPolicy& policy, std::optional<uint64_t> hash) {
  const uint32_t n = static_cast<uint32_t>(endpoints.size());
  if (n == 0) return nullptr;
  using Kind = config::LoadBalancerPolicy::Kind;
  switch (policy.kind) {
    case Kind::kConsistentHash:
      if (hash) return pick_hashed(key, endpoints, policy, *hash);
      return endpoints[lb4_slot_random(static_cast<uint32_t>(rng_()), n)];
    case Kind::kRoundRobin:
      return endpoints[lb4_slot_round_robin(cursors_[key]++, n)];
    case Kind::kLeastRequest: {
      // The same power-of-two-choices rule as the kernel, over this worker's
      // in-flight requests.
      uint32_t a = lb4_slot_random(static_cast<uint32_t>(rng_()), n);
      uint32_t b = lb4_p2c_second(a, static_cast<uint32_t>(rng_()), n);
      auto load = [&](uint32_t i) {
        auto it = in_flight_.find(endpoint_id(endpoints[i]));
        return it == in_flight_.end() ? 0u : it->second;
      };
      return endpoints[lb4_p2c(a, load(a), b, load(b))];
    }
    default:  // RANDOM, PASSTHROUGH; consistent hashing is not wired in yet
      return endpoints[lb4_slot_random(static_cast<uint32_t>(rng_()), n)];
  }
}

const config::Endpoint* EndpointPicker::pick_hashed(const std::string& key,
                                                    const std::vector<const config::Endpoint*>& endpoints,
                                                    const config::LoadBalancerPolicy& policy, uint64_t hash) {
  std::vector<uint64_t> ids;
  ids.reserve(endpoints.size());
  for (const config::Endpoint* e : endpoints) ids.push_back(endpoint_id(e));
  MaglevCache& cache = maglev_[key];
  if (cache.ids != ids) {
    std::vector<MaglevEntry> entries;
    for (uint32_t i = 0; i < ids.size(); ++i) entries.push_back({ids[i], endpoints[i]->weight ? endpoints[i]->weight : 1, i});
    uint64_t size = policy.ring_hash ? config::kMaglevDefaultTableSize : policy.table_size;
    if (!is_prime(size) || size < ids.size()) size = config::kMaglevDefaultTableSize;
    cache.table = build_maglev_table(entries, static_cast<uint32_t>(size));
    cache.ids = std::move(ids);
  }
  return endpoints[cache.table[lb4_hash64(hash) % cache.table.size()]];
}

void EndpointPicker::finished(const config::Endpoint* e) {
  auto it = in_flight_.find(endpoint_id(e));
  if (it != in_flight_.end() && it->second > 0) --it->second;
}

}  // namespace sluice::proxy
