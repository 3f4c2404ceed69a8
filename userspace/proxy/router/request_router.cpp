#include "request_router.h"

#include "endpoint_key.h"
#include "hash_policy.h"
#include "ip_text.h"
#include "mirror_policy.h"

#include <algorithm>

namespace sluice::proxy {

RouteDecision local_answer(RouteDecision d, unsigned status, telemetry::ResponseFlags flags, std::string body) {
  d.local_status = status;
  d.flags = flags;
  d.local_body = std::move(body);
  return d;
}

const config::ServicePort* port_of(const config::Service& s, uint32_t wanted, uint16_t original) {
  for (const config::ServicePort& p : s.ports) {
    if (wanted ? p.port == wanted : p.port == original) return &p;
  }
  return s.ports.size() == 1 ? &s.ports[0] : nullptr;
}

namespace {

// Istio's redirect: scheme, authority and path of the request unless the
// route replaces them.
RouteDecision redirect(RouteDecision d, const istio::networking::HTTPRedirect& r, const RequestAttrs& req) {
  std::string scheme = r.scheme().empty() ? std::string(req.scheme.empty() ? "http" : req.scheme) : r.scheme();
  std::string authority = r.authority().empty() ? std::string(req.authority) : r.authority();
  if (r.port()) authority = authority.substr(0, authority.rfind(':')) + ":" + std::to_string(r.port());
  std::string path = r.uri().empty() ? std::string(req.path) : r.uri();
  d.local_headers.emplace_back("location", scheme + "://" + authority + path);
  return local_answer(std::move(d), r.redirect_code() ? r.redirect_code() : 301, {}, "");
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
    if (uint32_t ip = 0; parse_ipv4(pod->object.status().pod_ip(), ip)) {
      pods_by_ip_[ip] = {&pod->meta.labels, &pod->meta.ns, &pod->object.spec().service_account_name()};
    }
  }
  for (const auto& [fqdn, s] : snap->services) {
    for (const config::ServicePort& p : s->ports) {
      if (s->vip) by_vip_[endpoint_key(s->vip, p.port)] = {s.get(), &p};
      // A DNS ServiceEntry's resolved addresses, as the kernel's entries
      // have them (datapath/l4_view.cpp): the request routes by its host.
      if (!p.via_daemon) continue;
      for (uint32_t a : s->dns_addresses) by_vip_.emplace(endpoint_key(a, p.port), std::pair{s.get(), &p});
    }
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
  if (!snap) return local_answer(std::move(d), 503, telemetry::ResponseFlag::kNoClusterFound, "no configuration yet\n");
  d.snapshot = snap;
  refresh(snap);
  auto table = snap->gateway_routes.find(gateway);
  if (table == snap->gateway_routes.end()) return local_answer(std::move(d), 404, telemetry::ResponseFlag::kNoRouteFound, "no route\n");
  std::string key = gateway;
  key += '|';
  key += host;
  const CompiledRoutes* routes = compiled(table->second, key, host);
  if (!routes) return local_answer(std::move(d), 404, telemetry::ResponseFlag::kNoRouteFound, "no route\n");
  req.gateway = gateway;
  return route_to(std::move(d), routes, nullptr, 0, req, client_ip);
}

RouteDecision RequestRouter::decide(config::SnapshotPtr snap, const std::optional<OriginalDestination>& dst,
                                    RequestAttrs req, uint32_t client_ip) {
  RouteDecision d;
  if (!snap) return local_answer(std::move(d), 503, telemetry::ResponseFlag::kNoClusterFound, "no configuration yet\n");
  d.snapshot = snap;
  if (!dst) return local_answer(std::move(d), 404, telemetry::ResponseFlag::kNoRouteFound, "unknown original destination\n");
  refresh(snap);
  if (auto pod = pods_by_ip_.find(client_ip); pod != pods_by_ip_.end()) {
    d.source = pod->second;
    req.source_labels = pod->second.labels;
    req.source_namespace = *pod->second.ns;
  }
  auto svc = by_vip_.find(endpoint_key(dst->vip, dst->port));
  if (svc == by_vip_.end()) return local_answer(std::move(d), 404, telemetry::ResponseFlag::kNoRouteFound, "no service at the original destination\n");
  const config::Service& service = *svc->second.first;
  d.original_port = dst->port;
  d.service = &service;

  // The service's VirtualService routes, or the service itself when it has none.
  return route_to(std::move(d), compiled(snap->mesh_routes, service.fqdn, service.fqdn), &service, dst->port, req,
                  client_ip);
}

bool RequestRouter::cluster_exists(const config::MeshSnapshot& snap, const config::RouteDestination& dest) {
  const config::Service* service = snap.find_service(dest.host);
  if (!service) return false;
  if (dest.subset.empty()) return true;
  return std::any_of(service->subsets.begin(), service->subsets.end(),
                     [&](const config::Subset& s) { return s.name == dest.subset; });
}

std::shared_ptr<const RouteTarget> RequestRouter::target_of(const config::MeshSnapshot& snap,
                                                            const config::RouteDestination* dest,
                                                            const config::Service* fallback, uint16_t dst_port) {
  const std::pair<const void*, uint16_t> key{dest ? static_cast<const void*>(dest) : fallback, dst_port};
  if (auto it = targets_.find(key); it != targets_.end()) return it->second;
  const config::Service* service = dest ? snap.find_service(dest->host) : fallback;
  const config::ServicePort* port = service ? port_of(*service, dest ? dest->port : 0, dst_port) : nullptr;
  if (!port) return nullptr;
  return target_for(key.first, dst_port, *service, *port, dest ? std::string_view(dest->subset) : std::string_view());
}

std::shared_ptr<const RouteTarget> RequestRouter::target_for(const void* key_ptr, uint16_t dst_port,
                                                             const config::Service& svc,
                                                             const config::ServicePort& port_ref,
                                                             std::string_view subset) {
  const std::pair<const void*, uint16_t> key{key_ptr, dst_port};
  if (auto it = targets_.find(key); it != targets_.end()) return it->second;
  const config::Service* service = &svc;
  const config::ServicePort* port = &port_ref;
  auto t = std::make_shared<RouteTarget>();
  t->endpoints = subset_endpoints(*service, *port, subset);
  const config::ResolvedPolicy policy = subset_policy(*service, *port, subset);
  t->load_balancer = policy.load_balancer;
  t->connect_timeout_ms = policy.connection_pool.connect_timeout_ms;
  t->service = service;
  t->socket_redirect = service->socket_redirect;
  t->h2 = port->protocol == config::Protocol::kHttp2 || port->protocol == config::Protocol::kGrpc ||
          policy.connection_pool.h2_upgrade;
  t->lb_key = service->fqdn + ":" + std::to_string(port->port) + "/" + std::string(subset);
  t->upstream_cluster = "outbound|" + std::to_string(port->port) + "|" + std::string(subset) + "|" + service->fqdn;
  t->cluster = clusters_->get(t->lb_key, *service, *port, policy, t->endpoints);
  t->tls = clusters_->tls_origination.get(policy.tls, service->fqdn);
  targets_.emplace(key, t);
  return t;
}

RouteDecision RequestRouter::route_to(RouteDecision d, const CompiledRoutes* routes, const config::Service* fallback,
                                      uint16_t dst_port, const RequestAttrs& req, uint32_t client_ip) {
  const config::RouteDestination* dest = nullptr;
  if (routes) {
    d.route = routes->match(req);
    if (!d.route) return local_answer(std::move(d), 404, telemetry::ResponseFlag::kNoRouteFound, "no route\n");
    d.virtual_service = d.route->virtual_service;
    if (d.route->spec->has_direct_response()) {
      const auto& dr = d.route->spec->direct_response();
      return local_answer(std::move(d), dr.status(), {}, dr.body().string());
    }
    if (d.route->spec->has_redirect()) return redirect(std::move(d), d.route->spec->redirect(), req);
    d.timeout_ms = d.route->timeout_ms;
    dest = pick_destination(*d.route, static_cast<uint32_t>(rng_()));
    if (!dest) return local_answer(std::move(d), 503, telemetry::ResponseFlag::kNoHealthyUpstream, "no destination with weight\n");
  }
  return to_target(std::move(d), dest, fallback, dst_port, req, client_ip);
}

RouteDecision RequestRouter::to_target(RouteDecision d, const config::RouteDestination* dest,
                                       const config::Service* fallback, uint16_t dst_port, const RequestAttrs& req,
                                       uint32_t client_ip) {
  if (!dest && !fallback) return local_answer(std::move(d), 503, telemetry::ResponseFlag::kNoHealthyUpstream, "no healthy upstream\n");
  if (dest && !cluster_exists(*d.snapshot, *dest)) {
    // Envoy has no cluster for a host that is no service, or for a subset
    // no DestinationRule defines (a reference admission lets through with
    // a warning): 503 NC.
    return local_answer(std::move(d), 503, telemetry::ResponseFlag::kNoClusterFound, "no cluster for the route's destination\n");
  }
  auto target = target_of(*d.snapshot, dest, fallback, dst_port);
  if (!target) return local_answer(std::move(d), 503, telemetry::ResponseFlag::kNoHealthyUpstream, "no healthy upstream\n");
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
  d.service = target->service;
  d.target = std::move(target);
  d.hash = hash_key(d.target->load_balancer, req, client_ip, d.set_cookie);
  d.endpoint = picker_.pick(d.target->lb_key, d.endpoints(), d.target->load_balancer, d.hash);
  if (!d.endpoint) return local_answer(std::move(d), 503, telemetry::ResponseFlag::kNoHealthyUpstream, "no healthy upstream\n");
  return d;
}

std::optional<uint64_t> RequestRouter::hash_key(const config::LoadBalancerPolicy& lb, const RequestAttrs& req,
                                                uint32_t client_ip, std::string& set_cookie) {
  return request_hash(lb, req, client_ip, set_cookie, rng_);
}

std::vector<MirrorTarget> RequestRouter::mirror_endpoints(const RouteDecision& d, uint16_t original_port) {
  return mirror_targets(d, original_port, rng_,
                        [&](const void* key, const config::Service& s, const config::ServicePort& p,
                            std::string_view subset) { return target_for(key, original_port, s, p, subset); });
}

const config::Endpoint* RequestRouter::repick(const RouteDecision& d, std::span<const config::Endpoint* const> tried) {
  std::vector<const config::Endpoint*> fresh;
  for (const config::Endpoint* e : d.endpoints()) {
    if (std::find(tried.begin(), tried.end(), e) == tried.end()) fresh.push_back(e);
  }
  return picker_.pick(d.target->lb_key, fresh.empty() ? d.endpoints() : fresh, d.target->load_balancer);
}

const ParsedRetryOn& RequestRouter::retry_on(const config::HttpRoute* route) {
  static const ParsedRetryOn kNone = parse_retry_on("");
  if (!route) return kNone;
  auto it = retry_cache_.find(route);
  if (it == retry_cache_.end()) it = retry_cache_.emplace(route, parse_retry_policy(route->retries)).first;
  return it->second;
}

}  // namespace sluice::proxy
