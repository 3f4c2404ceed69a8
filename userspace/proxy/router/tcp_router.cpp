// The L4 half of the router: opaque TCP ports that VirtualService tcp or
// tls routes take, and Gateway TLS PASSTHROUGH, decided per connection.
#include "request_router.h"

#include "endpoint_key.h"
#include "ip_text.h"
#include "tls_client_hello.h"

#include <algorithm>

namespace sluice::proxy {

namespace {

// What tcp and tls matches share: port, destinationSubnets, the source
// workload's labels and namespace, and gateways: the match's gateways (as
// "ns/name", resolved in the VirtualService's namespace) must name the one
// serving the connection, or "mesh" for mesh traffic (gateway empty).
template <class Match>
bool l4_match_hits(const Match& m, const OriginalDestination& dst, const RequestAttrs& source,
                   std::string_view gateway = {}, std::string_view vs_namespace = {}) {
  if (m.port() && m.port() != dst.port) return false;
  if (!m.destination_subnets().empty() &&
      std::none_of(m.destination_subnets().begin(), m.destination_subnets().end(),
                   [&](const std::string& c) { return ipv4_cidr_contains(c, dst.vip); })) {
    return false;
  }
  if (!m.source_namespace().empty() && m.source_namespace() != source.source_namespace) return false;
  for (const auto& [k, v] : m.source_labels()) {
    if (!source.source_labels) return false;
    auto it = source.source_labels->find(k);
    if (it == source.source_labels->end() || it->second != v) return false;
  }
  if (!m.gateways().empty() && std::none_of(m.gateways().begin(), m.gateways().end(), [&](const std::string& g) {
        return gateway.empty() ? g == "mesh" : config::resolve_gateway_name(g, std::string(vs_namespace)) == gateway;
      })) {
    return false;
  }
  return true;
}

bool tcp_match_hits(const istio::networking::L4MatchAttributes& m, const OriginalDestination& dst, uint32_t client_ip,
                    const RequestAttrs& source) {
  if (!m.source_subnet().empty() && !ipv4_cidr_contains(m.source_subnet(), client_ip)) return false;
  return l4_match_hits(m, dst, source);
}

// The tls route for a server name: among routes with a match whose L4
// fields hit (l4_hits) and whose sniHosts match, the one with the most
// specific sniHosts entry (Envoy's server-name matching: exact, then the
// longest wildcard); on a tie, the first.
template <class L4Hits>
const config::TlsRoute* best_tls_route(const std::vector<config::TlsRoute>& routes, std::string_view sni,
                                       L4Hits l4_hits) {
  const config::TlsRoute* best = nullptr;
  size_t best_score = 0;
  for (const config::TlsRoute& r : routes) {
    for (const auto& m : r.spec->match()) {
      size_t score = 0;
      for (const std::string& h : m.sni_hosts()) score = std::max(score, sni_match_score(h, sni));
      if (score > best_score && l4_hits(r, m)) {
        best = &r;
        best_score = score;
      }
    }
  }
  return best;
}

template <class Route, class Hits>
const Route* first_hit(const std::vector<Route>& routes, Hits hits) {
  for (const Route& r : routes) {
    const auto& matches = r.spec->match();
    if (matches.empty() || std::any_of(matches.begin(), matches.end(), hits)) return &r;
  }
  return nullptr;
}

}  // namespace

bool RequestRouter::is_opaque_tcp(const config::SnapshotPtr& snap, const OriginalDestination& dst) {
  if (!snap) return false;
  refresh(snap);
  auto svc = by_vip_.find(endpoint_key(dst.vip, dst.port));
  return svc != by_vip_.end() && svc->second.second->l4_proto == 6 && !config::is_http(svc->second.second->protocol);
}

RouteDecision RequestRouter::decide_gateway_tls(config::SnapshotPtr snap, const std::string& gateway,
                                                const std::string& sni, uint16_t port, uint32_t local_ip,
                                                uint32_t client_ip) {
  RouteDecision d;
  if (!snap) return d;
  d.snapshot = snap;
  refresh(snap);
  auto table = snap->gateway_routes.find(gateway);
  if (table == snap->gateway_routes.end()) return d;
  const config::HostRoutes* routes = find_host(table->second, sni);
  if (!routes) return d;
  OriginalDestination here;
  here.vip = local_ip;
  here.port = port;
  const RequestAttrs source;  // an external client has no workload labels
  const config::TlsRoute* tls = best_tls_route(routes->tls, sni, [&](const config::TlsRoute& r, const auto& m) {
    const std::string_view vs_ns = std::string_view(r.virtual_service).substr(0, r.virtual_service.find('/'));
    return l4_match_hits(m, here, source, gateway, vs_ns);
  });
  if (!tls) return d;
  d.virtual_service = tls->virtual_service;
  const config::RouteDestination* dest = pick_destination(tls->destinations, static_cast<uint32_t>(rng_()));
  if (!dest) return d;
  return to_target(std::move(d), dest, nullptr, 0, source, client_ip);
}

bool RequestRouter::wants_client_hello(const config::SnapshotPtr& snap, const OriginalDestination& dst) {
  if (!snap) return false;
  refresh(snap);
  auto svc = by_vip_.find(endpoint_key(dst.vip, dst.port));
  if (svc == by_vip_.end() || !config::is_tls(svc->second.second->protocol)) return false;
  auto routes = snap->mesh_routes.find(svc->second.first->fqdn);
  if (routes == snap->mesh_routes.end()) return false;
  return std::any_of(routes->second.tls.begin(), routes->second.tls.end(), [&](const config::TlsRoute& r) {
    return std::any_of(r.spec->match().begin(), r.spec->match().end(),
                       [&](const auto& m) { return m.port() == 0 || m.port() == dst.port; });
  });
}

RouteDecision RequestRouter::decide_tcp(config::SnapshotPtr snap, const OriginalDestination& dst, uint32_t client_ip,
                                        const std::string* sni) {
  RouteDecision d;
  if (!snap) return d;
  d.snapshot = snap;
  refresh(snap);
  auto svc = by_vip_.find(endpoint_key(dst.vip, dst.port));
  if (svc == by_vip_.end()) return d;
  const config::Service& service = *svc->second.first;
  d.original_port = dst.port;
  RequestAttrs source;
  if (auto pod = pods_by_ip_.find(client_ip); pod != pods_by_ip_.end()) {
    source.source_labels = pod->second.labels;
    source.source_namespace = *pod->second.ns;
  }
  const std::vector<config::RouteDestination>* destinations = nullptr;
  if (auto routes = snap->mesh_routes.find(service.fqdn); routes != snap->mesh_routes.end()) {
    // A connection that opened with a ClientHello tries the tls routes
    // first; then (and for anything else) the tcp routes.
    const config::TlsRoute* tls =
        sni ? best_tls_route(routes->second.tls, *sni,
                             [&](const config::TlsRoute&, const auto& m) { return l4_match_hits(m, dst, source); })
            : nullptr;
    const config::TcpRoute* tcp = tls ? nullptr : first_hit(routes->second.tcp, [&](const auto& m) {
      return tcp_match_hits(m, dst, client_ip, source);
    });
    if (tls) {
      d.virtual_service = tls->virtual_service;
      destinations = &tls->destinations;
    } else if (tcp) {
      d.virtual_service = tcp->virtual_service;
      destinations = &tcp->destinations;
    }
  }
  const config::RouteDestination* dest = nullptr;
  if (destinations) {
    dest = pick_destination(*destinations, static_cast<uint32_t>(rng_()));
    if (!dest) return d;
  }
  return to_target(std::move(d), dest, dest ? nullptr : &service, dst.port, source, client_ip);
}

}  // namespace sluice::proxy
