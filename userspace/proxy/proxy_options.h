// How sluiced configures its L7 proxy. Plain values and callbacks: the
// proxy reads the config and the kernel's original destinations only
// through these, so tests can run it on loopback with both injected.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster_registry.h"
#include "mesh_snapshot.h"
#include "original_destination.h"
#include "proxy_limits.h"
#include "request_metrics.h"
#include "rate_limits.h"
#include "tracing_settings.h"

namespace sluice::proxy {

struct ProxyOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 15001;  // 0: any (tests)
  unsigned workers = 2;
  uint32_t bypass_mark = 0;  // SO_MARK on upstream sockets, so the kernel does not redirect them
  // A client must send complete request headers within this, else 408.
  std::chrono::milliseconds header_timeout = kHeaderReadTimeout;
  std::function<config::SnapshotPtr()> snapshot;
  // The destination a client asked for, by its address and the local port it
  // reached (host byte order; the kernel spreads clients over several).
  std::function<std::optional<OriginalDestination>(uint32_t ip, uint16_t port, uint16_t local_port)>
      original_destination;
  // Circuit breakers and outlier detectors, shared with the daemon (which
  // ticks them and mirrors ejections into the kernel). Created if null.
  std::shared_ptr<ClusterRegistry> clusters;
  // Istio's request metrics, recorded per worker; null: metrics off.
  std::shared_ptr<telemetry::RequestMetrics> metrics;
  // The node's rate-limit buckets, shared by the workers. Created if null.
  std::shared_ptr<policy::RateLimitRegistry> rate_limits;
  // Tracing (docs/observability.md "Tracing"): spans go to `exporter`;
  // null: tracing off, and the clients' trace headers pass through as sent.
  TracingSettings tracing;
  // One JSON line per request; empty: access log off.
  std::function<void(const std::string&)> access_log;
  // Gateway ingress: listeners for the servers of Gateways whose selector
  // matches these labels (set_gateway_ports opens them on this address).
  std::string gateway_address = "0.0.0.0";
  std::map<std::string, std::string> gateway_labels{{"istio", "ingressgateway"}};
  // Load balancers in front of the Gateway whose X-Forwarded-For entries are
  // trusted (Istio's gatewayTopology.numTrustedProxies; http/forwarded_for.h).
  unsigned gateway_trusted_proxies = 0;
  // Listening sockets handed over by the sluiced this one replaces, by port
  // (docs/operations.md "Upgrades"): the mesh port's and the gateway ports'
  // are used instead of new ones, so their accept queues carry over. The
  // proxy owns these descriptors from start on.
  std::map<uint16_t, std::vector<int>> inherited_listeners;
};

}  // namespace sluice::proxy
