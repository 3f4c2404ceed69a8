// Chooses an endpoint of a destination (service port and subset) by the
// DestinationRule's load-balancing policy. One picker per worker thread: its
// round-robin cursors and in-flight counts are the worker's own, so the
// request path takes no lock (as Envoy's per-worker load balancers).
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "endpoint_key.h"
#include "mesh_snapshot.h"

namespace sluice::proxy {

// The endpoints of a service port that carry every label of the subset
// (all endpoints when subset is empty or unknown to the service).
std::vector<const config::Endpoint*> subset_endpoints(const config::Service& service,
                                                      const config::ServicePort& port, std::string_view subset);

// The subset's policy, resolved for the port.
config::ResolvedPolicy subset_policy(const config::Service& service, const config::ServicePort& port,
                                     std::string_view subset);

class EndpointPicker {
 public:
  // key names the endpoint set (service, port, subset) for round-robin and
  // Maglev state; hash is the request's consistent-hash key, if it has one.
  const config::Endpoint* pick(const std::string& key, const std::vector<const config::Endpoint*>& endpoints,
                               const config::LoadBalancerPolicy& policy, std::optional<uint64_t> hash = {});

  // In-flight requests per endpoint, for LEAST_REQUEST.
  void started(const config::Endpoint* e) { ++in_flight_[endpoint_id(e)]; }
  void finished(const config::Endpoint* e);

  static uint64_t endpoint_id(const config::Endpoint* e) { return endpoint_key(e->ip, e->port); }

 private:
  // A Maglev table per endpoint set (ring hash is served by Maglev too: both
  // keep a key on one endpoint and move about 1/N of keys on a change).
  struct MaglevCache {
    std::vector<uint64_t> ids;
    std::vector<uint32_t> table;  // index into ids
  };
  const config::Endpoint* pick_hashed(const std::string& key, const std::vector<const config::Endpoint*>& endpoints,
                                      const config::LoadBalancerPolicy& policy, uint64_t hash);

  std::unordered_map<std::string, uint64_t> cursors_;
  std::unordered_map<std::string, MaglevCache> maglev_;
  std::unordered_map<uint64_t, uint32_t> in_flight_;
  std::minstd_rand rng_{std::random_device{}()};
};

}  // namespace sluice::proxy
