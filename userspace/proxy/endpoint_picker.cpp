#include "endpoint_picker.h"

#include "lb_select.h"

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
        auto it = e.labels.find(k);
        if (it == e.labels.end() || it->second != v) {
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
                                             const config::LoadBalancerPolicy& policy) {
  const uint32_t n = static_cast<uint32_t>(endpoints.size());
  if (n == 0) return nullptr;
  using Kind = config::LoadBalancerPolicy::Kind;
  switch (policy.kind) {
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

void EndpointPicker::finished(const config::Endpoint* e) {
  auto it = in_flight_.find(endpoint_id(e));
  if (it != in_flight_.end() && it->second > 0) --it->second;
}

}  // namespace sluice::proxy
