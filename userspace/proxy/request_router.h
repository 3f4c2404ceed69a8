// Decides what to do with one request: the service it was meant for (from
// the kernel's original destination), the VirtualService route that matches,
// the destination and endpoint by weight and load-balancing policy, or a
// local answer (404 NR, 503 UH, directResponse, redirect). One per worker.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cluster_registry.h"
#include "endpoint_picker.h"
#include "mesh_snapshot.h"
#include "proxy_redirect.h"
#include "retry_policy.h"
#include "route_matcher.h"

namespace sluice::proxy {

struct RouteDecision {
  config::SnapshotPtr snapshot;  // keeps route and endpoint alive while the request runs
  unsigned local_status = 0;     // non-zero: answer locally with this status
  std::string flags;             // Envoy response flags for the access log
  std::string local_body;
  std::vector<std::pair<std::string, std::string>> local_headers;
  std::string virtual_service;   // "namespace/name", or empty without one
  const config::HttpRoute* route = nullptr;
  const config::RouteDestination* destination = nullptr;
  const config::Endpoint* endpoint = nullptr;
  // The destination's endpoints and policy, for retries to pick again.
  std::vector<const config::Endpoint*> endpoints;
  std::string lb_key;
  config::LoadBalancerPolicy load_balancer;
  std::shared_ptr<Cluster> cluster;  // circuit breaker and outlier detector of the destination
  std::optional<uint64_t> hash;      // consistent-hash key of this request
  std::string set_cookie;            // a hash cookie to give the client (it sent none)
  int64_t timeout_ms = 0;        // 0: none
  uint16_t original_port = 0;    // the service port the client addressed
  int64_t connect_timeout_ms = 10000;
  bool socket_redirect = true;   // the destination service allows the sockhash fast path
};

// `d` turned into a local answer: status, Envoy response flags, body.
RouteDecision local_answer(RouteDecision d, unsigned status, std::string flags, std::string body);

class RequestRouter {
 public:
  explicit RequestRouter(std::shared_ptr<ClusterRegistry> clusters) : clusters_(std::move(clusters)) {}

  // req.source_labels and req.source_namespace are filled in from the
  // client's pod (by IP) when the snapshot knows it.
  RouteDecision decide(config::SnapshotPtr snap, const std::optional<OriginalDestination>& dst, RequestAttrs req,
                       uint32_t client_ip);
  // Gateway traffic: the routes of VirtualServices bound to `gateway`
  // ("namespace/name") for `host` (the Host header), wildcards included.
  RouteDecision decide_gateway(config::SnapshotPtr snap, const std::string& gateway, std::string_view host,
                               RequestAttrs req, uint32_t client_ip);
  // Endpoints that get a copy of this request (mirror / mirrors, each by its
  // percentage; an absent percentage means 100%).
  std::vector<const config::Endpoint*> mirror_endpoints(const RouteDecision& d, uint16_t original_port);

  // Another endpoint for a retry: one not tried yet where there is one.
  const config::Endpoint* repick(const RouteDecision& d, const std::vector<const config::Endpoint*>& tried);
  EndpointPicker& picker() { return picker_; }

  // The route's retryOn, parsed once per snapshot (no route: no retries).
  const ParsedRetryOn& retry_on(const config::HttpRoute* route);

 private:
  void refresh(const config::SnapshotPtr& snap);
  const CompiledRoutes* compiled(const config::RouteTable& table, const std::string& cache_key, std::string_view host);
  // The common tail: match a route (none: the fallback destination), pick a
  // destination, its cluster and an endpoint.
  RouteDecision route_to(RouteDecision d, const CompiledRoutes* routes, const config::RouteDestination* fallback,
                         uint16_t dst_port, const RequestAttrs& req, uint32_t client_ip);

  uint64_t version_ = ~0ULL;
  std::unordered_map<uint64_t, std::pair<const config::Service*, const config::ServicePort*>> by_vip_;
  std::unordered_map<std::string, std::shared_ptr<const CompiledRoutes>> compiled_;
  struct Workload {
    const std::map<std::string, std::string>* labels;
    const std::string* ns;
  };
  std::unordered_map<uint32_t, Workload> pods_by_ip_;
  std::shared_ptr<ClusterRegistry> clusters_;
  std::unordered_map<std::string, std::shared_ptr<Cluster>> cluster_cache_;  // this snapshot's clusters
  std::unordered_map<const config::HttpRoute*, ParsedRetryOn> retry_cache_;
  EndpointPicker picker_;
  std::minstd_rand rng_{std::random_device{}()};

  // The request's consistent-hash key per the policy; may create a cookie.
  std::optional<uint64_t> hash_key(const config::LoadBalancerPolicy& lb, const RequestAttrs& req, uint32_t client_ip,
                                   std::string& set_cookie);
};

}  // namespace sluice::proxy
