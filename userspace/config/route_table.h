// VirtualService routes resolved per host, with Istio's defaults applied:
// what the L7 proxy (and, for gateways, the ingress) matches requests against.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "networking.pb.h"

namespace sluice::config {

// Istio's retry policy when a route has no `retries`: 2 attempts on these.
inline constexpr const char* kDefaultRetryOn =
    "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";
inline constexpr uint32_t kDefaultRetryAttempts = 2;

struct RetryPolicy {
  uint32_t attempts = kDefaultRetryAttempts;  // 0: no retries
  int64_t per_try_timeout_ms = 0;             // 0: bounded by the route timeout only
  std::string retry_on = kDefaultRetryOn;
  bool operator==(const RetryPolicy&) const = default;
};

struct RouteDestination {
  std::string host;    // FQDN
  std::string subset;  // empty: all endpoints
  uint32_t port = 0;   // 0: the service's only port
  int32_t weight = 100;
};

struct HttpRoute {
  std::string virtual_service;              // "namespace/name", for logs and flags
  const istio::networking::HTTPRoute* spec;  // match, rewrite, redirect, fault, mirror, headers...
  std::vector<RouteDestination> destinations;
  int64_t timeout_ms = 0;  // 0: none (Istio's default: off)
  RetryPolicy retries;
};

struct TcpRoute {
  std::string virtual_service;
  const istio::networking::TCPRoute* spec;
  std::vector<RouteDestination> destinations;
};

// Unterminated TLS, routed by the ClientHello's server name (sniHosts).
struct TlsRoute {
  std::string virtual_service;
  const istio::networking::TLSRoute* spec;
  std::vector<RouteDestination> destinations;
};

struct HostRoutes {
  std::vector<HttpRoute> http;  // in order: the first whose match hits wins
  std::vector<TcpRoute> tcp;
  std::vector<TlsRoute> tls;  // tried before tcp, on a connection that opens with a ClientHello
};

// Host (FQDN, or a wildcard such as *.example.com) -> its routes.
using RouteTable = std::map<std::string, HostRoutes>;

}  // namespace sluice::config
