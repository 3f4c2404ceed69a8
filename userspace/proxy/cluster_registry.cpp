#include "cluster_registry.h"

#include "endpoint_picker.h"

namespace sluice::proxy {

std::shared_ptr<Cluster> ClusterRegistry::get(const std::string& key, const config::Service& service,
                                              const config::ServicePort& port, const config::ResolvedPolicy& policy,
                                              const std::vector<const config::Endpoint*>& endpoints) {
  std::vector<uint64_t> ids;
  ids.reserve(endpoints.size());
  for (const config::Endpoint* e : endpoints) ids.push_back(EndpointPicker::endpoint_id(e));

  std::lock_guard lock(mu_);
  auto& slot = clusters_[key];
  if (!slot || !(slot->policy.outlier == policy.outlier)) {
    slot = std::make_shared<Cluster>(key, policy);
  } else if (!(slot->policy.connection_pool == policy.connection_pool)) {
    slot->breaker.update(policy.connection_pool);
    slot->policy = policy;
  }
  slot->vip = service.vip;
  slot->service_port = port.port;
  slot->outlier.set_endpoints(ids);
  return slot;
}

void ClusterRegistry::tick(OutlierDetector::Clock::time_point now) {
  std::lock_guard lock(mu_);
  for (auto& [key, c] : clusters_) {
    if (!c->outlier.enabled() || now < c->next_tick) continue;
    c->outlier.tick(now);
    c->next_tick = now + c->outlier.interval();
  }
}

std::vector<std::pair<std::shared_ptr<Cluster>, OutlierDetector::Event>> ClusterRegistry::drain_events() {
  std::vector<std::pair<std::shared_ptr<Cluster>, OutlierDetector::Event>> out;
  std::lock_guard lock(mu_);
  for (auto& [key, c] : clusters_) {
    for (OutlierDetector::Event& e : c->outlier.drain_events()) out.emplace_back(c, e);
  }
  return out;
}

}  // namespace sluice::proxy
