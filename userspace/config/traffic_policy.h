// A DestinationRule traffic policy resolved for one service port (and
// subset), with Istio's defaults applied. Istio, not Envoy, sets the
// defaults: connection-pool limits are unlimited (2^32-1), the load balancer
// is LEAST_REQUEST, outlier detection is off unless configured.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "networking.pb.h"

namespace sluice::config {

constexpr uint32_t kUnlimited = 0xffffffffu;
constexpr uint64_t kMaglevDefaultTableSize = 65537;
constexpr uint64_t kRingHashDefaultMinimumSize = 1024;

struct LoadBalancerPolicy {
  enum class Kind { kLeastRequest, kRoundRobin, kRandom, kPassthrough, kConsistentHash };
  Kind kind = Kind::kLeastRequest;
  // consistentHash key (exactly one is set when kind is kConsistentHash)
  std::string hash_header;
  std::string hash_cookie;
  std::string hash_cookie_path;
  int64_t hash_cookie_ttl_ms = 0;
  std::string hash_query_parameter;
  bool hash_source_ip = false;
  // table
  bool ring_hash = false;  // else Maglev
  uint64_t table_size = kMaglevDefaultTableSize;
  uint64_t minimum_ring_size = kRingHashDefaultMinimumSize;
  bool operator==(const LoadBalancerPolicy&) const = default;
};

struct ConnectionPoolPolicy {
  uint32_t max_connections = kUnlimited;
  int64_t connect_timeout_ms = 10000;
  int64_t tcp_idle_timeout_ms = 3600 * 1000;
  uint32_t http1_max_pending_requests = kUnlimited;
  uint32_t http2_max_requests = kUnlimited;
  uint32_t max_requests_per_connection = 0;  // 0: unlimited
  uint32_t max_retries = kUnlimited;
  int64_t http_idle_timeout_ms = 3600 * 1000;
  // h2UpgradePolicy: UPGRADE: speak HTTP/2 to the endpoints even on an HTTP port.
  bool h2_upgrade = false;
  bool operator==(const ConnectionPoolPolicy&) const = default;
};

struct OutlierPolicy {
  bool enabled = false;
  uint32_t consecutive_5xx_errors = 5;  // 0 disables this trigger
  uint32_t consecutive_gateway_errors = 0;
  int64_t interval_ms = 10000;
  int64_t base_ejection_time_ms = 30000;
  int64_t max_ejection_time_ms = 300000;
  uint32_t max_ejection_percent = 10;
  uint32_t min_health_percent = 0;
  bool operator==(const OutlierPolicy&) const = default;
};

// trafficPolicy.tls: how the proxy talks to the endpoints. SIMPLE and
// MUTUAL make it originate TLS (docs/egress.md, "TLS origination");
// ISTIO_MUTUAL has no workload certificates to use and stays plain.
struct ClientTlsPolicy {
  using Mode = istio::networking::ClientTLSSettings::TLSmode;
  Mode mode = istio::networking::ClientTLSSettings::DISABLE;
  std::string sni;                             // empty: the service's host
  std::string ca_certificates;                 // a PEM file; empty: the system's bundle
  std::vector<std::string> subject_alt_names;  // empty: the SNI name is checked
  std::string client_certificate;              // MUTUAL
  std::string private_key;                     // MUTUAL
  bool insecure_skip_verify = false;
  bool originates() const {
    return mode == istio::networking::ClientTLSSettings::SIMPLE || mode == istio::networking::ClientTLSSettings::MUTUAL;
  }
  bool operator==(const ClientTlsPolicy&) const = default;
};

struct ResolvedPolicy {
  LoadBalancerPolicy load_balancer;
  ConnectionPoolPolicy connection_pool;
  OutlierPolicy outlier;
  ClientTlsPolicy tls;

  bool operator==(const ResolvedPolicy&) const = default;
};

// The policy for a port of a service: the DestinationRule's top-level
// policy, its portLevelSettings for the port, then (if given) the subset's
// policy and its port-level settings. At each level, a field that is set
// (loadBalancer, connectionPool, outlierDetection, tls) replaces the one below.
ResolvedPolicy resolve_policy(const istio::networking::TrafficPolicy* top,
                              const istio::networking::TrafficPolicy* subset, uint32_t port);

}  // namespace sluice::config
