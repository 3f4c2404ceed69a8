#include "request_router.h"

#include "endpoint_key.h"
#include "http_query.h"
#include "ip_text.h"
#include "tls_client_hello.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>

namespace sluice::proxy {

RouteDecision local_answer(RouteDecision d, unsigned status, std::string flags, std::string body) {
  d.local_status = status;
  d.flags = std::move(flags);
  d.local_body = std::move(body);
  return d;
}

namespace {


const config::ServicePort* port_of(const config::Service& s, uint32_t wanted, uint16_t original) {
  for (const config::ServicePort& p : s.ports) {
    if (wanted ? p.port == wanted : p.port == original) return &p;
  }
  return s.ports.size() == 1 ? &s.ports[0] : nullptr;
}

// Istio's redirect: scheme, authority and path of the request unless the
// route replaces them.
RouteDecision redirect(RouteDecision d, const istio::networking::HTTPRedirect& r, const RequestAttrs& req) {
  std::string scheme = r.scheme().empty() ? std::string(req.scheme.empty() ? "http" : req.scheme) : r.scheme();
  std::string authority = r.authority().empty() ? std::string(req.authority) : r.authority();
  if (r.port()) authority = authority.substr(0, authority.rfind(':')) + ":" + std::to_string(r.port());
  std::string path = r.uri().empty() ? std::string(req.path) : r.uri();
  d.local_headers.emplace_back("location", scheme + "://" + authority + path);
  return local_answer(std::move(d), r.redirect_code() ? r.redirect_code() : 301, "", "");
}

}  // namespace

void RequestRouter::refresh(const config::SnapshotPtr& snap) {
  if (snap->version == version_) return;
  version_ = snap->version;
  by_vip_.clear();
  compiled_.clear();
  pods_by_ip_.clear();
  targets_.clear();
  retry_cache_.clear();
  for (const auto& pod : snap->resources.pods) {
    in_addr a{};
    if (inet_pton(AF_INET, pod->object.status().pod_ip().c_str(), &a) == 1) {
      pods_by_ip_[ntohl(a.s_addr)] = {&pod->meta.labels, &pod->meta.ns};
    }
  }
  for (const auto& [fqdn, s] : snap->services) {
    if (!s->vip) continue;
    for (const config::ServicePort& p : s->ports) by_vip_[endpoint_key(s->vip, p.port)] = {s.get(), &p};
  }
}

const CompiledRoutes* RequestRouter::compiled(const config::RouteTable& table, const std::string& cache_key,
                                              std::string_view host) {
  auto it = compiled_.find(cache_key);
  if (it == compiled_.end()) {
    const config::HostRoutes* routes = find_host(table, host);
    it = compiled_.emplace(cache_key, routes ? CompiledRoutes::build(*routes) : nullptr).first;
  }
  return it->second.get();
}

RouteDecision RequestRouter::decide_gateway(config::SnapshotPtr snap, const std::string& gateway, std::string_view host,
                                            RequestAttrs req, uint32_t client_ip) {
  RouteDecision d;
  if (!snap) return local_answer(std::move(d), 503, "NC", "no configuration yet\n");
  d.snapshot = snap;
  refresh(snap);
  auto table = snap->gateway_routes.find(gateway);
  if (table == snap->gateway_routes.end()) return local_answer(std::move(d), 404, "NR", "no route\n");
  std::string key = gateway;
  key += '|';
  key += host;
  const CompiledRoutes* routes = compiled(table->second, key, host);
  if (!routes) return local_answer(std::move(d), 404, "NR", "no route\n");
  req.gateway = gateway;
  return route_to(std::move(d), routes, nullptr, 0, req, client_ip);
}

RouteDecision RequestRouter::decide(config::SnapshotPtr snap, const std::optional<OriginalDestination>& dst,
                                    RequestAttrs req, uint32_t client_ip) {
  RouteDecision d;
  if (!snap) return local_answer(std::move(d), 503, "NC", "no configuration yet\n");
  d.snapshot = snap;
  if (!dst) return local_answer(std::move(d), 404, "NR", "unknown original destination\n");
  refresh(snap);
  if (auto pod = pods_by_ip_.find(client_ip); pod != pods_by_ip_.end()) {
    req.source_labels = pod->second.labels;
    req.source_namespace = *pod->second.ns;
  }
  auto svc = by_vip_.find(endpoint_key(dst->vip, dst->port));
  if (svc == by_vip_.end()) return local_answer(std::move(d), 404, "NR", "no service at the original destination\n");
  const config::Service& service = *svc->second.first;
  d.original_port = dst->port;

  // The service's VirtualService routes, or the service itself when it has none.
  return route_to(std::move(d), compiled(snap->mesh_routes, service.fqdn, service.fqdn), &service, dst->port, req,
                  client_ip);
}

std::shared_ptr<const RouteTarget> RequestRouter::target_of(const config::MeshSnapshot& snap,
                                                            const config::RouteDestination* dest,
                                                            const config::Service* fallback, uint16_t dst_port) {
  const std::pair<const void*, uint16_t> key{dest ? static_cast<const void*>(dest) : fallback, dst_port};
  if (auto it = targets_.find(key); it != targets_.end()) return it->second;
  const config::Service* service = dest ? snap.find_service(dest->host) : fallback;
  const config::ServicePort* port = service ? port_of(*service, dest ? dest->port : 0, dst_port) : nullptr;
  if (!port) return nullptr;
  const std::string_view subset = dest ? std::string_view(dest->subset) : std::string_view();
  auto t = std::make_shared<RouteTarget>();
  t->endpoints = subset_endpoints(*service, *port, subset);
  const config::ResolvedPolicy policy = subset_policy(*service, *port, subset);
  t->load_balancer = policy.load_balancer;
  t->connect_timeout_ms = policy.connection_pool.connect_timeout_ms;
  t->socket_redirect = service->socket_redirect;
  t->lb_key = service->fqdn + ":" + std::to_string(port->port) + "/" + std::string(subset);
  t->cluster = clusters_->get(t->lb_key, *service, *port, policy, t->endpoints);
  targets_.emplace(key, t);
  return t;
}

RouteDecision RequestRouter::route_to(RouteDecision d, const CompiledRoutes* routes, const config::Service* fallback,
                                      uint16_t dst_port, const RequestAttrs& req, uint32_t client_ip) {
  const config::RouteDestination* dest = nullptr;
  if (routes) {
    d.route = routes->match(req);
    if (!d.route) return local_answer(std::move(d), 404, "NR", "no route\n");
    d.virtual_service = d.route->virtual_service;
    if (d.route->spec->has_direct_response()) {
      const auto& dr = d.route->spec->direct_response();
      return local_answer(std::move(d), dr.status(), "", dr.body().string());
    }
    if (d.route->spec->has_redirect()) return redirect(std::move(d), d.route->spec->redirect(), req);
    d.timeout_ms = d.route->timeout_ms;
    dest = pick_destination(*d.route, static_cast<uint32_t>(rng_()));
    if (!dest) return local_answer(std::move(d), 503, "UH", "no destination with weight\n");
  }
  return to_target(std::move(d), dest, fallback, dst_port, req, client_ip);
}

RouteDecision RequestRouter::to_target(RouteDecision d, const config::RouteDestination* dest,
                                       const config::Service* fallback, uint16_t dst_port, const RequestAttrs& req,
                                       uint32_t client_ip) {
  if (!dest && !fallback) return local_answer(std::move(d), 503, "UH", "no healthy upstream\n");
  auto target = target_of(*d.snapshot, dest, fallback, dst_port);
  if (!target) return local_answer(std::move(d), 503, "UH", "no healthy upstream\n");
  d.destination = dest;
  // Ejected endpoints get nothing; when all are ejected (or the detector is
  // in panic) every endpoint is used, as in Envoy. The filtered copy is
  // made only when something is ejected.
  const OutlierDetector& outlier = target->cluster->outlier;
  const auto& all = target->endpoints;
  auto is_ejected = [&](const config::Endpoint* e) { return outlier.ejected(EndpointPicker::endpoint_id(e)); };
  if (std::any_of(all.begin(), all.end(), is_ejected)) {
    for (const config::Endpoint* e : all) {
      if (!is_ejected(e)) d.healthy.push_back(e);
    }
  }
  d.target = std::move(target);
  d.hash = hash_key(d.target->load_balancer, req, client_ip, d.set_cookie);
  d.endpoint = picker_.pick(d.target->lb_key, d.endpoints(), d.target->load_balancer, d.hash);
  if (!d.endpoint) return local_answer(std::move(d), 503, "UH", "no healthy upstream\n");
  return d;
}

namespace {

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

std::optional<std::string_view> cookie_value(std::string_view cookies, std::string_view name) {
  while (!cookies.empty()) {
    size_t end = cookies.find(';');
    std::string_view part = cookies.substr(0, end);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.starts_with(name) && part[name.size()] == '=') {
      return part.substr(name.size() + 1);
    }
    if (end == std::string_view::npos) break;
    cookies.remove_prefix(end + 1);
  }
  return std::nullopt;
}

}  // namespace

std::optional<uint64_t> RequestRouter::hash_key(const config::LoadBalancerPolicy& lb, const RequestAttrs& req,
                                                uint32_t client_ip, std::string& set_cookie) {
  if (lb.kind != config::LoadBalancerPolicy::Kind::kConsistentHash) return std::nullopt;
  if (lb.hash_source_ip) return client_ip;
  if (!lb.hash_header.empty()) {
    std::string name = lb.hash_header;
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto v = req.headers ? req.headers->header(name) : std::nullopt;
    return v ? std::optional<uint64_t>(fnv1a(*v)) : std::nullopt;
  }
  if (!lb.hash_query_parameter.empty()) {
    auto v = http_query::param(http_query::query_of(req.path), lb.hash_query_parameter);
    return v ? std::optional<uint64_t>(fnv1a(*v)) : std::nullopt;
  }
  if (!lb.hash_cookie.empty()) {
    auto cookies = req.headers ? req.headers->header("cookie") : std::nullopt;
    if (auto v = cookies ? cookie_value(*cookies, lb.hash_cookie) : std::nullopt) return fnv1a(*v);
    // No cookie yet: make one (Envoy does when a ttl is given), so the
    // client's next requests stick to the endpoint this one goes to.
    if (lb.hash_cookie_ttl_ms <= 0) return std::nullopt;
    char value[17];
    std::snprintf(value, sizeof(value), "%016llx", static_cast<unsigned long long>((uint64_t{rng_()} << 32) | rng_()));
    set_cookie = lb.hash_cookie + "=" + value + "; Max-Age=" + std::to_string(lb.hash_cookie_ttl_ms / 1000) +
                 (lb.hash_cookie_path.empty() ? "" : "; Path=" + lb.hash_cookie_path) + "; HttpOnly";
    return fnv1a(value);
  }
  return std::nullopt;
}

const config::Endpoint* RequestRouter::repick(const RouteDecision& d, std::span<const config::Endpoint* const> tried) {
  std::vector<const config::Endpoint*> fresh;
  for (const config::Endpoint* e : d.endpoints()) {
    if (std::find(tried.begin(), tried.end(), e) == tried.end()) fresh.push_back(e);
  }
  return picker_.pick(d.target->lb_key, fresh.empty() ? d.endpoints() : fresh, d.target->load_balancer);
}

}  // namespace sluice::proxy

namespace sluice::proxy {

std::vector<RequestRouter::MirrorTarget> RequestRouter::mirror_endpoints(const RouteDecision& d,
                                                                        uint16_t original_port) {
  std::vector<MirrorTarget> out;
  if (!d.route || !d.snapshot) return out;
  const auto& spec = *d.route->spec;
  std::uniform_real_distribution<double> u(0.0, 100.0);
  auto add = [&](const istio::networking::Destination& dest, bool has_pct, double pct) {
    if (has_pct && u(rng_) >= pct) return;
    const std::string host = config::resolve_host(dest.host(), d.virtual_service.substr(0, d.virtual_service.find('/')),
                                                  d.snapshot->domain);
    const config::Service* s = d.snapshot->find_service(host);
    const config::ServicePort* port = s ? port_of(*s, dest.has_port() ? dest.port().number() : 0, original_port) : nullptr;
    if (!port) return;
    const auto eps = subset_endpoints(*s, *port, dest.subset());
    if (!eps.empty()) out.push_back({eps[rng_() % eps.size()], s->socket_redirect});
  };
  if (spec.has_mirror()) add(spec.mirror(), spec.has_mirror_percentage(), spec.mirror_percentage().value());
  for (const auto& m : spec.mirrors()) add(m.destination(), m.has_percentage(), m.percentage().value());
  return out;
}

}  // namespace sluice::proxy

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

const ParsedRetryOn& RequestRouter::retry_on(const config::HttpRoute* route) {
  static const ParsedRetryOn kNone = parse_retry_on("");
  if (!route) return kNone;
  auto it = retry_cache_.find(route);
  if (it == retry_cache_.end()) it = retry_cache_.emplace(route, parse_retry_policy(route->retries)).first;
  return it->second;
}

}  // namespace sluice::proxy
