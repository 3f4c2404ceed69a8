// Per-cluster state that all workers share: the circuit breaker and the
// outlier detector of each destination (service port and subset). Workers
// cache the clusters they use per snapshot, so the registry's lock is taken
// only on a cache miss, not per request.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "circuit_breaker.h"
#include "exposition.h"
#include "mesh_snapshot.h"
#include "outlier_detector.h"
#include "tls_origination.h"

namespace sluice::proxy {

struct Cluster {
  Cluster(std::string k, const config::ResolvedPolicy& p)
      : key(std::move(k)), policy(p), breaker(p.connection_pool), outlier(p.outlier) {}

  const std::string key;        // "host:port/subset"
  uint32_t vip = 0;             // the kernel L4 service its endpoints belong to
  uint16_t service_port = 0;
  config::ResolvedPolicy policy;
  CircuitBreaker breaker;
  OutlierDetector outlier;
  OutlierDetector::Clock::time_point next_tick{};  // the detector is ticked once per its interval
};

class ClusterRegistry {
 public:
  // The cluster for key, created on first use; an existing one follows
  // policy and endpoint changes (a changed outlier policy starts afresh).
  std::shared_ptr<Cluster> get(const std::string& key, const config::Service& service,
                               const config::ServicePort& port, const config::ResolvedPolicy& policy,
                               const std::vector<const config::Endpoint*>& endpoints);

  // Ticks each cluster's detector once per its interval (returning hosts
  // whose ejection ended); call it more often than the shortest interval.
  void tick(OutlierDetector::Clock::time_point now);

  // Every cluster's circuit-breaker counters and outlier state, as JSON for
  // the admin API (/clusters): the daemon's half of the view whose kernel
  // half is /maps.
  std::string to_json() const;

  // The same counters as Prometheus families (docs/observability.md):
  // sluice_circuit_breaker_active / _overflows_total by cluster and
  // resource, sluice_outlier_ejections_active / _total by cluster.
  void write_metrics(telemetry::ExpositionWriter& w) const;

  // Ejection changes since the last call, with their cluster.
  std::vector<std::pair<std::shared_ptr<Cluster>, OutlierDetector::Event>> drain_events();

  // The TLS contexts of destinations that originate TLS, shared by all
  // workers like the clusters.
  OriginationContexts tls_origination;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Cluster>> clusters_;
};

}  // namespace sluice::proxy
