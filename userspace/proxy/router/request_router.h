// Decides what to do with one request: the service it was meant for (from
// the kernel's original destination), the VirtualService route that matches,
// the destination and endpoint by weight and load-balancing policy, or a
// local answer (404 NR, 503 UH, directResponse, redirect). One per worker.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cluster_registry.h"
#include "endpoint_picker.h"
#include "mesh_snapshot.h"
#include "original_destination.h"
#include "response_flags.h"
#include "retry_policy.h"
#include "route_matcher.h"

namespace sluice::proxy {

struct OriginationContext;  // tls_origination.h

// What a destination (a service port and subset) resolves to. The same for
// every request within a snapshot, so each worker works it out once per
// snapshot instead of per request.
struct RouteTarget {
  const config::Service* service = nullptr;        // the destination service (lives as long as the snapshot)
  std::vector<const config::Endpoint*> endpoints;  // the subset's endpoints, ejected ones included
  config::LoadBalancerPolicy load_balancer;
  std::string lb_key;                // "host:port/subset": names the endpoint set for LB state and clusters
  std::string upstream_cluster;      // Envoy's cluster name, "outbound|port|subset|host" (span attributes)
  std::shared_ptr<Cluster> cluster;  // circuit breaker and outlier detector of the destination
  int64_t connect_timeout_ms = 10000;
  bool socket_redirect = true;  // the destination service allows the sockhash fast path
  // Speak HTTP/2 to the endpoints: the port's protocol is http2 or grpc
  // (Istio's protocol selection), or the DestinationRule's h2UpgradePolicy
  // is UPGRADE. Otherwise HTTP/1.1, whatever the client spoke.
  bool h2 = false;
  // trafficPolicy.tls SIMPLE or MUTUAL: the endpoints are spoken to over TLS
  // (docs/egress.md, "TLS origination"); null: plain.
  std::shared_ptr<const OriginationContext> tls;
};

// The pod that holds a client's address, as the snapshot knows it: what the
// filters (authorization, rate limits, metrics) know of the source.
struct SourcePod {
  const config::Labels* labels = nullptr;  // null: no pod of the cluster holds the address
  const std::string* ns = nullptr;
  const std::string* service_account = nullptr;  // spec.serviceAccountName ("" for the default)
  bool known() const { return ns != nullptr; }
};

struct RouteDecision {
  config::SnapshotPtr snapshot;  // keeps route and endpoint alive while the request runs
  SourcePod source;              // the client's pod (mesh traffic)
  unsigned local_status = 0;     // non-zero: answer locally with this status
  telemetry::ResponseFlags flags;  // for the access log
  std::string local_body;
  std::vector<std::pair<std::string, std::string>> local_headers;
  std::string virtual_service;   // "namespace/name", or empty without one
  const config::HttpRoute* route = nullptr;
  const config::RouteDestination* destination = nullptr;
  const config::Endpoint* endpoint = nullptr;
  std::shared_ptr<const RouteTarget> target;  // set with endpoint
  // The endpoints not ejected by outlier detection, when some are; empty
  // when none are (then all of the target's are used).
  std::vector<const config::Endpoint*> healthy;
  std::optional<uint64_t> hash;      // consistent-hash key of this request
  std::string set_cookie;            // a hash cookie to give the client (it sent none)
  int64_t timeout_ms = 0;        // 0: none
  uint16_t original_port = 0;    // the service port the client addressed
  // The service the request is for: the route destination's once one is
  // chosen, else the one the client dialled; null when neither is known.
  const config::Service* service = nullptr;

  // With an endpoint: its destination's circuit breaker and outlier detector.
  Cluster& cluster() const { return *target->cluster; }
  // The endpoints to pick from, also for retries.
  const std::vector<const config::Endpoint*>& endpoints() const { return healthy.empty() ? target->endpoints : healthy; }
};

// `d` turned into a local answer: status, Envoy response flags, body.
RouteDecision local_answer(RouteDecision d, unsigned status, telemetry::ResponseFlags flags, std::string body);

// The port of `s` a destination means: `wanted` when given, else the port
// the client addressed; a single-port service's only port either way.
const config::ServicePort* port_of(const config::Service& s, uint32_t wanted, uint16_t original);

// An endpoint that gets a copy of a request, with whether its service
// allows the sockhash fast path, and its destination's target (HTTP/2 or
// not, the cluster whose pools and breaker the copy goes through).
struct MirrorTarget {
  const config::Endpoint* endpoint;
  bool socket_redirect;
  std::shared_ptr<const RouteTarget> target;
};

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
  // Opaque TCP, a service port whose protocol is not HTTP (the kernel sends
  // such a port here only when a VirtualService's tcp routes take it): the
  // first tcp route whose match hits, a destination by weight and an
  // endpoint; the service's own endpoints when no route matches. A decision
  // without an endpoint means: close the connection. sni: the connection
  // opened with a ClientHello with this server name (empty: none), so the
  // tls routes are tried first (sniHosts and the L4 fields).
  RouteDecision decide_tcp(config::SnapshotPtr snap, const OriginalDestination& dst, uint32_t client_ip,
                           const std::string* sni = nullptr);
  // A Gateway PASSTHROUGH connection: among the tls routes of the
  // VirtualServices bound to `gateway` for the SNI host, the one whose
  // matching sniHosts entry is the most specific (port = the gateway port,
  // destinationSubnets against the gateway address and gateways must hit),
  // a destination by weight and an endpoint.
  // No endpoint: close the connection.
  RouteDecision decide_gateway_tls(config::SnapshotPtr snap, const std::string& gateway, const std::string& sni,
                                   uint16_t port, uint32_t local_ip, uint32_t client_ip);
  // Whether the service port at dst is a TLS or HTTPS port with tls routes
  // that take it: then the proxy reads the ClientHello before it decides.
  bool wants_client_hello(const config::SnapshotPtr& snap, const OriginalDestination& dst);
  // Whether the service port at dst is opaque TCP (not HTTP).
  bool is_opaque_tcp(const config::SnapshotPtr& snap, const OriginalDestination& dst);

  // Endpoints that get a copy of this request (mirror_policy.h).
  std::vector<MirrorTarget> mirror_endpoints(const RouteDecision& d, uint16_t original_port);

  // Another endpoint for a retry: one not tried yet where there is one.
  const config::Endpoint* repick(const RouteDecision& d, std::span<const config::Endpoint* const> tried);
  EndpointPicker& picker() { return picker_; }

  // The route's retryOn, parsed once per snapshot (no route: no retries).
  const ParsedRetryOn& retry_on(const config::HttpRoute* route);

 private:
  void refresh(const config::SnapshotPtr& snap);
  const CompiledRoutes* compiled(const config::RouteTable& table, const std::string& cache_key, std::string_view host);
  // The common tail: match a route (none: the fallback destination), pick a
  // destination, its cluster and an endpoint.
  // `fallback`: the service itself, for a request with no routes.
  RouteDecision route_to(RouteDecision d, const CompiledRoutes* routes, const config::Service* fallback,
                         uint16_t dst_port, const RequestAttrs& req, uint32_t client_ip);
  // The chosen destination's target, its healthy endpoints and one of them.
  RouteDecision to_target(RouteDecision d, const config::RouteDestination* dest, const config::Service* fallback,
                          uint16_t dst_port, const RequestAttrs& req, uint32_t client_ip);
  // The target of a route destination (or of the fallback service, with
  // dest null), cached for this snapshot; null when the port does not exist.
  // A destination whose host is a service and whose subset (if any) is
  // defined by its DestinationRule.
  static bool cluster_exists(const config::MeshSnapshot& snap, const config::RouteDestination& dest);
  std::shared_ptr<const RouteTarget> target_of(const config::MeshSnapshot& snap, const config::RouteDestination* dest,
                                               const config::Service* fallback, uint16_t dst_port);
  // The target of `port` of `service` (subset may be empty), cached under
  // (key, dst_port): `key` lives as long as the snapshot.
  std::shared_ptr<const RouteTarget> target_for(const void* key, uint16_t dst_port, const config::Service& service,
                                                const config::ServicePort& port, std::string_view subset);

  uint64_t version_ = ~0ULL;
  std::unordered_map<uint64_t, std::pair<const config::Service*, const config::ServicePort*>> by_vip_;
  std::unordered_map<std::string, std::shared_ptr<const CompiledRoutes>> compiled_;
  std::unordered_map<uint32_t, SourcePod> pods_by_ip_;
  std::shared_ptr<ClusterRegistry> clusters_;
  // This snapshot's targets, by (route destination or fallback service, the
  // port the client addressed): both pointers live as long as the snapshot.
  struct TargetKeyHash {
    size_t operator()(const std::pair<const void*, uint16_t>& k) const {
      return std::hash<const void*>()(k.first) ^ (size_t{k.second} * 0x9e3779b97f4a7c15ULL);
    }
  };
  std::unordered_map<std::pair<const void*, uint16_t>, std::shared_ptr<const RouteTarget>, TargetKeyHash> targets_;
  std::unordered_map<const config::HttpRoute*, ParsedRetryOn> retry_cache_;
  EndpointPicker picker_;
  std::minstd_rand rng_{std::random_device{}()};

  // The request's consistent-hash key per the policy; may create a cookie.
  std::optional<uint64_t> hash_key(const config::LoadBalancerPolicy& lb, const RequestAttrs& req, uint32_t client_ip,
                                   std::string& set_cookie);
};

}  // namespace sluice::proxy
