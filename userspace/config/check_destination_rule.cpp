// DestinationRule on its own, and the connection pool that Sidecar shares:
// istio/istio pkg/config/validation (ValidateDestinationRule,
// validateTrafficPolicy and its parts, agent.ValidateTLS and
// agent.ValidateLocalityLbSetting).
#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "resource_checks.h"

namespace sluice::config {

namespace net = istio::networking;

namespace {

// Envoy's limit on a Maglev table (MaglevLbConfig.table_size).
constexpr uint64_t kMaxMaglevTableSize = 5000011;

// Envoy's isPrime, which Istio copies: 1, 2 and 3 count as prime.
bool envoy_is_prime(uint64_t x) {
  if (x != 0 && x < 4) return true;
  if ((x & 1) == 0) return false;
  for (uint64_t f = 3; f * f <= x; f += 2) {
    if (x % f == 0) return false;
  }
  return true;
}

void outlier_detection(ResourceChecker& c, const std::string& p, const net::OutlierDetection& od) {
  if (od.has_base_ejection_time()) c.duration(p + ".baseEjectionTime", od.base_ejection_time());
  if (od.consecutive_errors() != 0) {
    c.warning(p + ".consecutiveErrors",
              "outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead");
  }
  if (!od.split_external_local_origin_errors() && od.consecutive_local_origin_failures().value() > 0) {
    c.error(p + ".consecutiveLocalOriginFailures",
            "outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false");
  }
  if (od.has_interval()) c.duration(p + ".interval", od.interval());
  auto percent = [&](const std::string& fp, int32_t v) {
    if (v < 0 || v > 100) c.error(fp, "percentage " + std::to_string(v) + " is not in range 0..100");
  };
  percent(p + ".maxEjectionPercent", od.max_ejection_percent());
  percent(p + ".minHealthPercent", od.min_health_percent());
}

void consistent_hash(ResourceChecker& c, const std::string& p, const net::LoadBalancerSettings::ConsistentHashLB& ch) {
  if (ch.has_http_cookie() && ch.http_cookie().name().empty()) c.error(p + ".httpCookie.name", "name required for HttpCookie");
  if (ch.minimum_ring_size() != 0) {
    c.warning(p + ".minimumRingSize",
              "consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash configuration instead");
    if (ch.hash_algorithm_case() != net::LoadBalancerSettings::ConsistentHashLB::HASH_ALGORITHM_NOT_SET) {
      c.error(p + ".minimumRingSize", "only one of MinimumRingSize or Maglev/Ringhash can be specified");
    }
  }
  if (ch.has_maglev()) {
    const uint64_t size = ch.maglev().table_size();
    if (size == 0) c.error(p + ".maglev.tableSize", "tableSize must be set for maglev");
    if (size >= kMaxMaglevTableSize) {
      // Also not proven prime: trial division of a 64-bit number never ends.
      c.error(p + ".maglev.tableSize", "tableSize must be less than 5000011 for maglev");
    } else if (!envoy_is_prime(size)) {
      c.error(p + ".maglev.tableSize", "tableSize must be a prime number for maglev");
    }
  }
  if (ch.hash_key_case() == net::LoadBalancerSettings::ConsistentHashLB::HASH_KEY_NOT_SET) {
    // Istio accepts it; Envoy then hashes nothing and every request lands on
    // one endpoint.
    c.warning(p, "no hash key (httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName): "
                 "every request hashes the same");
  }
}

// validateLocalities: "region/zone/subzone", a "*" only as the last character.
void localities(ResourceChecker& c, const std::string& p, const std::vector<std::string>& list) {
  for (const std::string& l : list) {
    const size_t stars = std::count(l.begin(), l.end(), '*');
    if (stars > 1 || (stars == 1 && !l.ends_with('*'))) {
      c.error(p, "locality " + l + " wildcard '*' number can not exceed 1 and must be in the end");
      return;
    }
    size_t start = 0;
    for (int part = 0; part < 3; ++part) {
      const size_t slash = part == 2 ? std::string::npos : l.find('/', start);
      if (l.substr(start, slash == std::string::npos ? std::string::npos : slash - start).empty()) {
        c.error(p, "locality " + l + " must not contain empty region/zone/subzone info");
        return;
      }
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
  }
}

void locality_lb(ResourceChecker& c, const std::string& p, const net::LocalityLoadBalancerSetting& lb, bool has_outlier) {
  if (lb.distribute_size() > 0 && lb.failover_size() > 0) {
    c.error(p, "can not simultaneously specify 'distribute' and 'failover'");
    return;
  }
  if (lb.failover_size() > 0) {
    static const std::set<std::string> kTopology = {"topology.kubernetes.io/region", "topology.kubernetes.io/zone",
                                                    "topology.istio.io/subzone"};
    for (const std::string& label : lb.failover_priority()) {
      if (kTopology.count(label)) {
        c.error(p + ".failoverPriority",
                "can not simultaneously set 'failover' and topology label '" + label + "' in 'failover_priority'");
        return;
      }
    }
  }
  std::vector<std::string> from;
  for (int i = 0; i < lb.distribute_size(); ++i) {
    const auto& d = lb.distribute(i);
    const std::string dp = idx(p + ".distribute", i);
    from.push_back(d.from());
    uint64_t total = 0;
    std::vector<std::string> to;
    for (const auto& [loc, weight] : d.to()) {
      if (weight == 0 || weight > 100) {
        c.error(dp + ".to", "locality weight must be in range [1, 100]");
        return;
      }
      total += weight;
      to.push_back(loc);
    }
    if (total != 100) {
      c.error(dp + ".to", "total locality weight " + std::to_string(total) + " != 100");
      return;
    }
    localities(c, dp + ".to", to);
  }
  localities(c, p + ".distribute", from);
  if ((lb.failover_size() > 0 || lb.failover_priority_size() > 0) && !has_outlier) {
    c.warning(p, "outlier detection policy must be provided for failover");
  }
  for (int i = 0; i < lb.failover_size(); ++i) {
    const auto& f = lb.failover(i);
    const std::string fp = idx(p + ".failover", i);
    if (f.from() == f.to()) c.error(fp, "locality lb failover settings must specify different regions");
    if (f.from().find('/') != std::string::npos || f.to().find('/') != std::string::npos) {
      c.error(fp, "locality lb failover only specify region");
    }
    if (f.from().find('*') != std::string::npos || f.to().find('*') != std::string::npos) {
      c.error(fp, "locality lb failover region should not contain '*' wildcard");
    }
  }
}

void load_balancer(ResourceChecker& c, const std::string& p, const net::LoadBalancerSettings& lb, bool has_outlier) {
  if (lb.has_consistent_hash()) consistent_hash(c, p + ".consistentHash", lb.consistent_hash());
  if (lb.has_locality_lb_setting()) locality_lb(c, p + ".localityLbSetting", lb.locality_lb_setting(), has_outlier);
  if (lb.has_warmup()) {
    const auto& w = lb.warmup();
    if (!w.has_duration()) {
      c.error(p + ".warmup.duration", "duration is required");
    } else {
      c.duration(p + ".warmup.duration", w.duration());
    }
    if (w.minimum_percent().value() > 100) {
      c.error(p + ".warmup.minimumPercent", "minimumPercent value should be less than or equal to 100");
    }
    if (w.has_aggression() && w.aggression().value() < 1) {
      c.error(p + ".warmup.aggression", "aggression should be greater than or equal to 1");
    }
  }
  if (lb.has_warmup_duration_secs()) c.duration(p + ".warmupDurationSecs", lb.warmup_duration_secs());
}

// agent.ValidateTLS: the client side of a DestinationRule.
void client_tls(ResourceChecker& c, const std::string& p, const net::ClientTLSSettings& t) {
  using Tls = net::ClientTLSSettings;
  if (t.insecure_skip_verify().value()) {
    if (t.mode() == Tls::SIMPLE && (!t.ca_certificates().empty() || !t.credential_name().empty() || t.subject_alt_names_size() > 0)) {
      c.error(p, "cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true");
    }
    if (t.mode() == Tls::MUTUAL && (!t.ca_certificates().empty() || t.subject_alt_names_size() > 0)) {
      c.error(p, "cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true");
    }
  }
  if ((t.mode() == Tls::SIMPLE || t.mode() == Tls::MUTUAL) && !t.credential_name().empty()) {
    if (!t.client_certificate().empty() || !t.ca_certificates().empty() || !t.private_key().empty() || !t.ca_crl().empty()) {
      c.error(p, "cannot specify client certificates or CA certificate or CA CRL If credentialName is set");
    }
    return;
  }
  if (t.mode() == Tls::MUTUAL) {
    if (t.client_certificate().empty()) c.error(p + ".clientCertificate", "client certificate required for mutual tls");
    if (t.private_key().empty()) c.error(p + ".privateKey", "private key required for mutual tls");
  }
}

void tunnel(ResourceChecker& c, const std::string& p, const net::TrafficPolicy::TunnelSettings& t) {
  if (!t.protocol().empty() && t.protocol() != "CONNECT" && t.protocol() != "POST") {
    c.error(p + ".protocol", "tunnel protocol must be \"CONNECT\" or \"POST\"");
  }
  const Problem fqdn = check_fqdn(t.target_host());
  const Problem ip = check_ip_address(t.target_host());
  if (fqdn && ip) c.error(p + ".targetHost", "tunnel target host must be valid FQDN or IP address: " + *fqdn + "; " + *ip);
  if (t.target_port() < 1 || t.target_port() > 65535) {
    c.error(p + ".targetPort", "tunnel target port is invalid: port number " + std::to_string(t.target_port()) +
                                   " must be in the range 1..65535");
  }
}

// The parts of a policy level (the top, and each portLevelSettings entry).
template <class Level>
void level(ResourceChecker& c, const std::string& p, const Level& l) {
  if (l.has_outlier_detection()) outlier_detection(c, p + ".outlierDetection", l.outlier_detection());
  if (l.has_connection_pool()) check_connection_pool(c, p + ".connectionPool", l.connection_pool());
  if (l.has_load_balancer()) load_balancer(c, p + ".loadBalancer", l.load_balancer(), l.has_outlier_detection());
  if (l.has_tls()) client_tls(c, p + ".tls", l.tls());
}

void traffic_policy(ResourceChecker& c, const std::string& p, const net::TrafficPolicy& tp) {
  if (!tp.has_outlier_detection() && !tp.has_connection_pool() && !tp.has_load_balancer() && !tp.has_tls() &&
      tp.port_level_settings_size() == 0 && !tp.has_tunnel() && !tp.has_proxy_protocol() && !tp.has_retry_budget()) {
    c.error(p, "traffic policy must have at least one field");
    return;
  }
  if (tp.has_tunnel() && tp.has_proxy_protocol()) {
    c.error(p, "tunnel and proxyProtocol must not be set together");
    return;
  }
  level(c, p, tp);
  for (int i = 0; i < tp.port_level_settings_size(); ++i) {
    const auto& pls = tp.port_level_settings(i);
    const std::string pp = idx(p + ".portLevelSettings", i);
    if (!pls.has_port()) {
      c.error(pp + ".port", "portTrafficPolicy must have valid port");
    } else {
      c.port(pp + ".port.number", pls.port().number());
    }
    if (!pls.has_outlier_detection() && !pls.has_connection_pool() && !pls.has_load_balancer() && !pls.has_tls()) {
      c.error(pp, "port traffic policy must have at least one field");
    } else {
      level(c, pp, pls);
    }
  }
  if (tp.has_tunnel()) tunnel(c, p + ".tunnel", tp.tunnel());
}

}  // namespace

void check_connection_pool(ResourceChecker& c, const std::string& p, const net::ConnectionPoolSettings& cp) {
  if (!cp.has_http() && !cp.has_tcp()) {
    c.error(p, "connection pool must have at least one field");
    return;
  }
  if (cp.has_http()) {
    const auto& h = cp.http();
    const std::string hp = p + ".http";
    if (h.http1_max_pending_requests() < 0) c.error(hp + ".http1MaxPendingRequests", "http1 max pending requests must be non-negative");
    if (h.http2_max_requests() < 0) c.error(hp + ".http2MaxRequests", "http2 max requests must be non-negative");
    if (h.max_requests_per_connection() < 0) c.error(hp + ".maxRequestsPerConnection", "max requests per connection must be non-negative");
    if (h.max_retries() < 0) c.error(hp + ".maxRetries", "max retries must be non-negative");
    if (h.has_idle_timeout()) c.duration(hp + ".idleTimeout", h.idle_timeout());
    if (h.h2_upgrade_policy() == net::ConnectionPoolSettings::HTTPSettings::UPGRADE && h.use_client_protocol()) {
      c.error(hp + ".useClientProtocol", "use client protocol must not be true when H2UpgradePolicy is UPGRADE");
    }
    if (h.max_concurrent_streams() < 0) c.error(hp + ".maxConcurrentStreams", "max concurrent streams must be non-negative");
    if (h.http2_keep_alive().has_interval()) c.duration(hp + ".http2KeepAlive.interval", h.http2_keep_alive().interval());
    if (h.http2_keep_alive().has_timeout()) c.duration(hp + ".http2KeepAlive.timeout", h.http2_keep_alive().timeout());
  }
  if (cp.has_tcp()) {
    const auto& t = cp.tcp();
    const std::string tp = p + ".tcp";
    if (t.max_connections() < 0) c.error(tp + ".maxConnections", "max connections must be non-negative");
    if (t.has_connect_timeout()) c.duration(tp + ".connectTimeout", t.connect_timeout());
    if (t.has_max_connection_duration()) c.duration(tp + ".maxConnectionDuration", t.max_connection_duration());
    // 0s turns the idle timeout off.
    if (t.has_idle_timeout() && (t.idle_timeout().seconds() != 0 || t.idle_timeout().nanos() / 1000000 != 0)) {
      c.duration(tp + ".idleTimeout", t.idle_timeout());
    }
    if (t.tcp_keepalive().has_time()) c.duration(tp + ".tcpKeepalive.time", t.tcp_keepalive().time());
    if (t.tcp_keepalive().has_interval()) c.duration(tp + ".tcpKeepalive.interval", t.tcp_keepalive().interval());
  }
}

void check_destination_rule(ResourceChecker& c, const net::DestinationRule& dr) {
  c.error_if("spec.host", check_wildcard_domain(dr.host()));
  if (dr.has_traffic_policy()) traffic_policy(c, "spec.trafficPolicy", dr.traffic_policy());
  std::set<std::string> names;
  for (int i = 0; i < dr.subsets_size(); ++i) {
    const std::string p = idx("spec.subsets", i);
    const auto& s = dr.subsets(i);
    if (!names.insert(s.name()).second) c.error(p + ".name", "duplicate subset names: " + s.name());
    if (s.name().empty()) {
      c.error(p + ".name", "subset name cannot be empty");
    } else if (!is_dns1123_label(s.name())) {
      c.error(p + ".name", "subset name is invalid: " + s.name());
    }
    c.labels(p + ".labels", s.labels());
    if (s.has_traffic_policy()) traffic_policy(c, p + ".trafficPolicy", s.traffic_policy());
  }
  c.export_to("spec.exportTo", dr.export_to(), false, dr.has_workload_selector());
  if (dr.has_workload_selector()) {
    c.selector_labels("spec.workloadSelector.matchLabels", dr.workload_selector().match_labels());
    if (dr.workload_selector().match_labels().empty()) {
      c.warning("spec.workloadSelector", "workload selector specified without labels");
    }
  }
}

}  // namespace sluice::config
