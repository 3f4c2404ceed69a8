// Chooses an endpoint of a destination (service port and subset) by the
// DestinationRule's load-balancing policy. One picker per worker thread: its
// round-robin cursors and in-flight counts are the worker's own, so the
// request path takes no lock (as Envoy's per-worker load balancers).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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
  // key names the endpoint set (service, port, subset) for round-robin state.
  const config::Endpoint* pick(const std::string& key, const std::vector<const config::Endpoint*>& endpoints,
                               const config::LoadBalancerPolicy& policy);

  // In-flight requests per endpoint, for LEAST_REQUEST.
  void started(const config::Endpoint* e) { ++in_flight_[endpoint_id(e)]; }
  void finished(const config::Endpoint* e);

  static uint64_t endpoint_id(const config::Endpoint* e) { return (uint64_t{e->ip} << 16) | e->port; }

 private:
  std::unordered_map<std::string, uint64_t> cursors_;
  std::unordered_map<uint64_t, uint32_t> in_flight_;
  std::minstd_rand rng_{std::random_device{}()};
};

}  // namespace sluice::proxy
