#include "traffic_policy.h"

#include <algorithm>

namespace sluice::config {

namespace net = istio::networking;

namespace {

int64_t to_ms(const google::protobuf::Duration& d) { return d.seconds() * 1000 + d.nanos() / 1000000; }

// Istio's int32 limits use 0 for "not set".
uint32_t limit_or_default(int32_t v, uint32_t def) { return v > 0 ? static_cast<uint32_t>(v) : def; }

LoadBalancerPolicy load_balancer(const net::LoadBalancerSettings& lb) {
  LoadBalancerPolicy p;
  if (lb.has_consistent_hash()) {
    const net::LoadBalancerSettings::ConsistentHashLB& ch = lb.consistent_hash();
    p.kind = LoadBalancerPolicy::Kind::kConsistentHash;
    p.hash_header = ch.http_header_name();
    if (ch.has_http_cookie()) {
      p.hash_cookie = ch.http_cookie().name();
      p.hash_cookie_path = ch.http_cookie().path();
      p.hash_cookie_ttl_ms = to_ms(ch.http_cookie().ttl());
    }
    p.hash_source_ip = ch.use_source_ip();
    p.hash_query_parameter = ch.http_query_parameter_name();
    if (ch.has_ring_hash()) {
      p.ring_hash = true;
      if (ch.ring_hash().minimum_ring_size()) p.minimum_ring_size = ch.ring_hash().minimum_ring_size();
    } else if (ch.has_maglev()) {
      if (ch.maglev().table_size()) p.table_size = ch.maglev().table_size();
    } else if (ch.minimum_ring_size()) {
      p.ring_hash = true;
      p.minimum_ring_size = ch.minimum_ring_size();
    }
    return p;
  }
  switch (lb.simple()) {
    case net::LoadBalancerSettings::ROUND_ROBIN:
      p.kind = LoadBalancerPolicy::Kind::kRoundRobin;
      break;
    case net::LoadBalancerSettings::RANDOM:
      p.kind = LoadBalancerPolicy::Kind::kRandom;
      break;
    case net::LoadBalancerSettings::PASSTHROUGH:
      p.kind = LoadBalancerPolicy::Kind::kPassthrough;
      break;
    default:  // UNSPECIFIED, LEAST_CONN (deprecated alias), LEAST_REQUEST
      p.kind = LoadBalancerPolicy::Kind::kLeastRequest;
      break;
  }
  return p;
}

ConnectionPoolPolicy connection_pool(const net::ConnectionPoolSettings& cp) {
  ConnectionPoolPolicy p;
  if (cp.has_tcp()) {
    p.max_connections = limit_or_default(cp.tcp().max_connections(), kUnlimited);
    if (cp.tcp().has_connect_timeout()) p.connect_timeout_ms = to_ms(cp.tcp().connect_timeout());
    if (cp.tcp().has_idle_timeout()) p.tcp_idle_timeout_ms = to_ms(cp.tcp().idle_timeout());
  }
  if (cp.has_http()) {
    const auto& h = cp.http();
    p.http1_max_pending_requests = limit_or_default(h.http1_max_pending_requests(), kUnlimited);
    p.http2_max_requests = limit_or_default(h.http2_max_requests(), kUnlimited);
    p.max_requests_per_connection = limit_or_default(h.max_requests_per_connection(), 0);
    p.max_retries = limit_or_default(h.max_retries(), kUnlimited);
    if (h.has_idle_timeout()) p.http_idle_timeout_ms = to_ms(h.idle_timeout());
    p.h2_upgrade = h.h2_upgrade_policy() == net::ConnectionPoolSettings::HTTPSettings::UPGRADE;
  }
  return p;
}

OutlierPolicy outlier(const net::OutlierDetection& od) {
  OutlierPolicy p;
  p.enabled = true;
  if (od.has_consecutive_5xx_errors()) p.consecutive_5xx_errors = od.consecutive_5xx_errors().value();
  if (od.has_consecutive_gateway_errors()) p.consecutive_gateway_errors = od.consecutive_gateway_errors().value();
  if (od.has_interval()) p.interval_ms = to_ms(od.interval());
  if (od.has_base_ejection_time()) p.base_ejection_time_ms = to_ms(od.base_ejection_time());
  if (od.max_ejection_percent()) p.max_ejection_percent = static_cast<uint32_t>(od.max_ejection_percent());
  p.min_health_percent = static_cast<uint32_t>(std::max(0, od.min_health_percent()));
  return p;
}

ClientTlsPolicy client_tls(const net::ClientTLSSettings& t) {
  ClientTlsPolicy p;
  p.mode = t.mode();
  p.sni = t.sni();
  p.ca_certificates = t.ca_certificates();
  p.subject_alt_names.assign(t.subject_alt_names().begin(), t.subject_alt_names().end());
  p.client_certificate = t.client_certificate();
  p.private_key = t.private_key();
  p.insecure_skip_verify = t.insecure_skip_verify().value();
  return p;
}

// Fields set in `policy` (or in its settings for `port`) replace those in p.
void overlay(ResolvedPolicy& p, const net::TrafficPolicy& policy, uint32_t port) {
  auto apply = [&p](const auto& level) {
    if (level.has_load_balancer()) p.load_balancer = load_balancer(level.load_balancer());
    if (level.has_connection_pool()) p.connection_pool = connection_pool(level.connection_pool());
    if (level.has_outlier_detection()) p.outlier = outlier(level.outlier_detection());
    if (level.has_tls()) p.tls = client_tls(level.tls());
  };
  apply(policy);
  for (const auto& pls : policy.port_level_settings()) {
    if (pls.port().number() == port) apply(pls);
  }
}

}  // namespace

ResolvedPolicy resolve_policy(const net::TrafficPolicy* top, const net::TrafficPolicy* subset,
                              uint32_t port) {
  ResolvedPolicy p;
  if (top) overlay(p, *top, port);
  if (subset) overlay(p, *subset, port);
  return p;
}

}  // namespace sluice::config
