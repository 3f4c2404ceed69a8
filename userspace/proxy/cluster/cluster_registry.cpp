#include "cluster_registry.h"

#include "endpoint_picker.h"
#include "json_writer.h"

#include <algorithm>
#include <map>

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

namespace sluice::proxy {

std::string ClusterRegistry::to_json() const {
  JsonWriter w;
  auto counter = [&w](const char* name, const CircuitBreaker::Counter& c) {
    w.key(name).begin_object();
    w.key("active").value(c.active);
    w.key("limit").value(c.limit);
    w.key("overflows").value(c.overflows);
    w.end_object();
  };
  std::lock_guard lock(mu_);
  std::map<std::string, std::shared_ptr<Cluster>> sorted(clusters_.begin(), clusters_.end());
  w.begin_object().key("clusters").begin_array();
  for (const auto& [key, c] : sorted) {
    const CircuitBreaker::Snapshot cb = c->breaker.snapshot();
    const OutlierDetector::Stats od = c->outlier.stats();
    w.begin_object();
    w.key("name").value(key);
    w.key("circuit_breakers").begin_object();
    counter("connections", cb.connections);
    counter("pending_requests", cb.pending_requests);
    counter("requests", cb.requests);
    counter("retries", cb.retries);
    w.key("max_requests_per_connection").value(cb.max_requests_per_connection);
    w.end_object();
    w.key("outlier_detection").begin_object();
    w.key("enabled").value(c->outlier.enabled());
    w.key("ejections_active").value(od.ejections_active);
    w.key("ejections_total").value(od.ejections_enforced_total);
    w.key("ejections_consecutive_5xx").value(od.ejections_enforced_consecutive_5xx);
    w.key("ejections_consecutive_gateway_failure").value(od.ejections_enforced_consecutive_gateway_failure);
    w.key("ejections_overflow").value(od.ejections_overflow);
    w.key("panic").value(od.panic);
    w.end_object();
    w.end_object();
  }
  w.end_array().end_object();
  return std::move(w).str();
}

void ClusterRegistry::write_metrics(telemetry::ExpositionWriter& w) const {
  using telemetry::ExpositionWriter;
  std::vector<std::pair<std::string, std::shared_ptr<Cluster>>> sorted;
  {
    std::lock_guard lock(mu_);
    sorted.assign(clusters_.begin(), clusters_.end());
  }
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  struct Resource {
    const char* name;
    CircuitBreaker::Counter CircuitBreaker::Snapshot::*counter;
  };
  static constexpr Resource kResources[] = {{"connections", &CircuitBreaker::Snapshot::connections},
                                            {"pending_requests", &CircuitBreaker::Snapshot::pending_requests},
                                            {"requests", &CircuitBreaker::Snapshot::requests},
                                            {"retries", &CircuitBreaker::Snapshot::retries}};
  std::vector<CircuitBreaker::Snapshot> breakers;
  std::vector<OutlierDetector::Stats> outliers;
  for (const auto& [key, c] : sorted) {
    breakers.push_back(c->breaker.snapshot());
    outliers.push_back(c->outlier.stats());
  }
  w.gauge("sluice_circuit_breaker_active", "Resources a cluster's circuit breaker counts as held now.");
  for (size_t i = 0; i < sorted.size(); ++i) {
    for (const Resource& r : kResources) {
      w.sample("sluice_circuit_breaker_active", "",
               ExpositionWriter::label_text({{"cluster", sorted[i].first}, {"resource", r.name}}),
               (breakers[i].*r.counter).active);
    }
  }
  w.counter("sluice_circuit_breaker_overflows", "Tries a cluster's circuit breaker refused (503 UO).");
  for (size_t i = 0; i < sorted.size(); ++i) {
    for (const Resource& r : kResources) {
      w.counter_sample("sluice_circuit_breaker_overflows",
                       ExpositionWriter::label_text({{"cluster", sorted[i].first}, {"resource", r.name}}),
                       (breakers[i].*r.counter).overflows);
    }
  }
  w.gauge("sluice_outlier_ejections_active", "Endpoints of a cluster ejected by outlier detection now.");
  for (size_t i = 0; i < sorted.size(); ++i) {
    w.sample("sluice_outlier_ejections_active", "", ExpositionWriter::label_text({{"cluster", sorted[i].first}}),
             outliers[i].ejections_active);
  }
  w.counter("sluice_outlier_ejections", "Ejections outlier detection enforced.");
  for (size_t i = 0; i < sorted.size(); ++i) {
    w.counter_sample("sluice_outlier_ejections", ExpositionWriter::label_text({{"cluster", sorted[i].first}}),
                     outliers[i].ejections_enforced_total);
  }
}

}  // namespace sluice::proxy
