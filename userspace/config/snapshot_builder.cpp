#include "snapshot_builder.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <set>
#include <unordered_map>

#include "service_text.h"
#include "validate.h"

namespace sluice::config {

namespace net = istio::networking;

std::string_view protocol_name(Protocol p) {
  switch (p) {
    case Protocol::kHttp: return "HTTP";
    case Protocol::kHttp2: return "HTTP2";
    case Protocol::kGrpc: return "GRPC";
    case Protocol::kTcp: return "TCP";
    case Protocol::kTls: return "TLS";
    case Protocol::kHttps: return "HTTPS";
    case Protocol::kUdp: return "UDP";
    case Protocol::kUnknown: return "UNKNOWN";
  }
  return "UNKNOWN";
}

bool is_http(Protocol p) { return p == Protocol::kHttp || p == Protocol::kHttp2 || p == Protocol::kGrpc; }

const Service* MeshSnapshot::find_service(const std::string& fqdn) const {
  auto it = services.find(fqdn);
  return it == services.end() ? nullptr : it->second.get();
}

std::string resolve_host(const std::string& host, const std::string& ns, const std::string& domain) {
  if (host == "*" || host.find('.') != std::string::npos) return host;
  in_addr a{};
  if (inet_pton(AF_INET, host.c_str(), &a) == 1) return host;
  return host + "." + ns + ".svc." + domain;
}

std::string resolve_gateway_name(const std::string& gw, const std::string& vs_namespace) {
  if (gw == "mesh") return gw;
  const size_t slash = gw.find('/');
  if (slash == std::string::npos) {
    const size_t dot = gw.find('.');
    if (dot == std::string::npos) return vs_namespace + "/" + gw;
    const size_t next = gw.find('.', dot + 1);
    return gw.substr(dot + 1, next == std::string::npos ? std::string::npos : next - dot - 1) + "/" + gw.substr(0, dot);
  }
  if (gw.compare(0, slash, ".") == 0) return vs_namespace + "/" + gw.substr(slash + 1);
  return gw;
}

Protocol select_protocol(const std::string& app_protocol, const std::string& port_name,
                         const std::string& l4_protocol) {
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
  };
  if (lower(l4_protocol) == "udp") return Protocol::kUdp;
  auto by_name = [](const std::string& p) -> std::optional<Protocol> {
    if (p == "http") return Protocol::kHttp;
    if (p == "http2" || p == "h2c") return Protocol::kHttp2;
    if (p == "grpc" || p == "grpc-web") return Protocol::kGrpc;
    if (p == "https") return Protocol::kHttps;
    if (p == "tls") return Protocol::kTls;
    if (p == "tcp" || p == "mongo" || p == "mysql" || p == "redis") return Protocol::kTcp;
    return std::nullopt;
  };
  if (!app_protocol.empty()) {
    std::string ap = lower(app_protocol);
    if (ap.starts_with("kubernetes.io/")) ap = ap.substr(14);
    if (ap == "h2c") return Protocol::kHttp2;
    if (auto p = by_name(ap)) return *p;
  }
  const std::string name = lower(port_name);
  if (name == "grpc-web" || name.starts_with("grpc-web-")) return Protocol::kGrpc;
  if (auto p = by_name(name.substr(0, name.find('-')))) return *p;
  return Protocol::kTcp;
}

namespace {

uint32_t parse_ipv4(const std::string& s) {
  in_addr a{};
  std::string ip = s.substr(0, s.find('/'));
  return inet_pton(AF_INET, ip.c_str(), &a) == 1 ? ntohl(a.s_addr) : 0;
}

bool labels_match(const std::map<std::string, std::string>& selector,
                  const std::map<std::string, std::string>& labels) {
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

template <class Map>
std::map<std::string, std::string> to_map(const Map& m) {
  return {m.begin(), m.end()};
}

uint8_t l4_proto_of(const std::string& protocol) { return protocol == "UDP" ? 17 : 6; }

class Builder {
 public:
  Builder(MeshSnapshot& snap, std::vector<Diagnostic>& diags, BuildMemo* memo)
      : snap_(snap), sink_(diags), memo_(memo) {}

  void run() {
    index_endpoints();
    index_destination_rules();
    add_kubernetes_services();
    add_service_entries();
    build_l4_view();
    resolve_routes();
    if (memo_) memo_->services = std::move(next_memo_);
  }

 private:
  using PodRef = std::shared_ptr<const K8sResource<k8s::Pod>>;
  using SliceRef = std::shared_ptr<const K8sResource<k8s::EndpointSlice>>;
  using RuleRef = std::shared_ptr<const IstioResource<net::DestinationRule>>;

  // targetPort of a Service port for one pod: a number, a container port
  // name, or (absent) the service port itself.
  static uint16_t target_port_for(const k8s::ServicePort& sp, const k8s::Pod* pod) {
    const auto& tp = sp.target_port();
    if (tp.has_number_value()) return static_cast<uint16_t>(tp.number_value());
    if (tp.has_string_value() && pod) {
      for (const auto& c : pod->spec().containers()) {
        for (const auto& cp : c.ports()) {
          if (cp.name() == tp.string_value()) return static_cast<uint16_t>(cp.container_port());
        }
      }
      return 0;
    }
    return static_cast<uint16_t>(sp.port());
  }

  // Indexes, so that matching is proportional to what matches rather than
  // to services x pods.
  static std::string label_key(const std::string& ns, const std::string& k, const std::string& v) {
    return ns + '\0' + k + '\0' + v;
  }

  void index_endpoints() {
    for (const auto& r : snap_.resources.endpoint_slices) {
      auto it = r->meta.labels.find("kubernetes.io/service-name");
      if (it != r->meta.labels.end()) slices_[r->meta.ns + "/" + it->second].push_back(r);
    }
    for (const auto& r : snap_.resources.pods) {
      for (const auto& [k, v] : r->meta.labels) pods_by_label_[label_key(r->meta.ns, k, v)].push_back(r);
    }
  }

  // The DestinationRule of each host: the first one wins, as in Istio.
  void index_destination_rules() {
    for (const auto& r : snap_.resources.destination_rules) {
      const std::string host = resolve_host(r->spec.host(), r->meta.ns, snap_.domain);
      if (!rules_.emplace(host, r).second) {
        sink_.set_context(r->source.file, r->meta.id());
        sink_.warning(r->source.line_of("spec.host"), "spec.host",
                      "another DestinationRule for " + host + " came first; this one is ignored");
      }
    }
  }

  RuleRef rule_for(const std::string& fqdn) const {
    auto it = rules_.find(fqdn);
    return it == rules_.end() ? nullptr : it->second;
  }

  const std::vector<SliceRef>* slices_for(const Meta& svc) const {
    auto it = slices_.find(svc.ns + "/" + svc.name);
    return it == slices_.end() ? nullptr : &it->second;
  }

  // Pods of namespace ns whose labels include the whole selector: walk the
  // shortest posting list among the selector's pairs.
  std::vector<PodRef> pods_for(const std::string& ns, const google::protobuf::Map<std::string, std::string>& selector) const {
    const std::vector<PodRef>* shortest = nullptr;
    for (const auto& [k, v] : selector) {
      auto it = pods_by_label_.find(label_key(ns, k, v));
      if (it == pods_by_label_.end()) return {};
      if (!shortest || it->second.size() < shortest->size()) shortest = &it->second;
    }
    std::vector<PodRef> out;
    if (!shortest) return out;
    for (const PodRef& p : *shortest) {
      if (labels_match(to_map(selector), p->meta.labels)) out.push_back(p);
    }
    return out;
  }

  static void apply_rule(Service& s, const RuleRef& rule) {
    if (!rule) return;
    if (rule->spec.has_traffic_policy()) s.policy = &rule->spec.traffic_policy();
    for (const auto& sub : rule->spec.subsets()) {
      s.subsets.push_back({sub.name(), to_map(sub.labels()), sub.has_traffic_policy() ? &sub.traffic_policy() : nullptr});
    }
  }

  static void resolve_policies(Service& s) {
    for (ServicePort& p : s.ports) p.policy = resolve_policy(s.policy, nullptr, p.port);
  }

  // A Kubernetes Service is rebuilt only when one of its inputs changed:
  // the Service, its EndpointSlices or selected Pods, or its
  // DestinationRule. Unchanged files keep their resource objects, so
  // pointer equality is change detection.
  void add_kubernetes_services() {
    for (const auto& r : snap_.resources.services) {
      const std::string fqdn = r->meta.name + "." + r->meta.ns + ".svc." + snap_.domain;
      const RuleRef rule = rule_for(fqdn);
      const auto* slices = slices_for(r->meta);
      const auto& selector = r->object.spec().selector();
      std::vector<PodRef> pods;
      if (!slices && !selector.empty()) pods = pods_for(r->meta.ns, selector);

      std::vector<std::shared_ptr<const void>> inputs = {r, rule};
      if (slices) inputs.insert(inputs.end(), slices->begin(), slices->end());
      inputs.insert(inputs.end(), pods.begin(), pods.end());

      std::shared_ptr<const Service> svc;
      if (memo_) {
        auto it = memo_->services.find(fqdn);
        if (it != memo_->services.end() && it->second.same_inputs(inputs)) svc = it->second.service;
      }
      if (!svc) svc = make_kubernetes_service(*r, fqdn, rule, slices, pods);
      if (memo_) next_memo_[fqdn] = {std::move(inputs), svc};
      snap_.services[fqdn] = std::move(svc);
    }
  }

  std::shared_ptr<const Service> make_kubernetes_service(const K8sResource<k8s::Service>& r, const std::string& fqdn,
                                                         const RuleRef& rule, const std::vector<SliceRef>* slices,
                                                         const std::vector<PodRef>& pods) const {
    auto s = std::make_shared<Service>();
    s->name = r.meta.name;
    s->ns = r.meta.ns;
    s->fqdn = fqdn;
    const std::string& cip = r.object.spec().cluster_ip();
    s->vip = cip == "None" ? 0 : parse_ipv4(cip);
    for (const auto& sp : r.object.spec().ports()) {
      ServicePort port;
      port.name = sp.name();
      port.port = static_cast<uint16_t>(sp.port());
      port.l4_proto = l4_proto_of(sp.protocol());
      port.protocol = select_protocol(sp.app_protocol(), sp.name(), sp.protocol());
      if (slices) {
        add_slice_endpoints(*slices, sp, port);
      } else {
        add_pod_endpoints(pods, sp, port);
      }
      s->ports.push_back(std::move(port));
    }
    add_external_addresses(r.object, *s);
    if (auto a = r.object.metadata().annotations().find(kSocketRedirectAnnotation);
        a != r.object.metadata().annotations().end()) {
      s->socket_redirect = a->second != "off" && a->second != "false";
    }
    apply_rule(*s, rule);
    resolve_policies(*s);
    compute_l4(*s);
    return s;
  }

  // What the XDP load balancer needs: the addresses external clients use,
  // who may use them, and whether only local endpoints serve them.
  static void add_external_addresses(const k8s::Service& svc, Service& s) {
    auto add_ip = [&](const std::string& text) {
      uint32_t ip = parse_ipv4(text);
      if (ip && std::find(s.external_ips.begin(), s.external_ips.end(), ip) == s.external_ips.end()) {
        s.external_ips.push_back(ip);
      }
    };
    if (svc.spec().type() == "LoadBalancer") {
      for (const auto& ing : svc.status().load_balancer().ingress()) add_ip(ing.ip());
    }
    for (const std::string& ip : svc.spec().external_ips()) add_ip(ip);
    for (const std::string& range : svc.spec().load_balancer_source_ranges()) {
      uint32_t net = 0;
      uint8_t len = 0;
      if (parse_ipv4_cidr(range, net, len)) s.source_ranges.emplace_back(net, len);
    }
    s.external_traffic_local = svc.spec().external_traffic_policy() == "Local";
  }

  static void add_slice_endpoints(const std::vector<SliceRef>& slices, const k8s::ServicePort& sp,
                                  ServicePort& port) {
    for (const SliceRef& ref : slices) {
      const k8s::EndpointSlice* slice = &ref->object;
      if (!slice->address_type().empty() && slice->address_type() != "IPv4") continue;
      uint16_t target = 0;
      for (const auto& p : slice->ports()) {
        if (p.name() == sp.name()) target = static_cast<uint16_t>(p.port());
      }
      if (!target) continue;
      for (const auto& ep : slice->endpoints()) {
        // Kubernetes: a nil "ready" means ready.
        if (ep.has_conditions() && ep.conditions().has_ready() && !ep.conditions().ready().value()) continue;
        for (const auto& addr : ep.addresses()) {
          if (uint32_t ip = parse_ipv4(addr)) {
            Endpoint e;
            e.ip = ip;
            e.port = target;
            if (ep.has_target_ref()) e.pod = ep.target_ref().namespace_() + "/" + ep.target_ref().name();
            e.node_name = ep.node_name();
            port.endpoints.push_back(std::move(e));
          }
        }
      }
    }
  }

  static void add_pod_endpoints(const std::vector<PodRef>& pods, const k8s::ServicePort& sp, ServicePort& port) {
    for (const PodRef& r : pods) {
      const k8s::Pod& pod = r->object;
      const std::string& phase = pod.status().phase();
      if (!phase.empty() && phase != "Running") continue;
      uint32_t ip = parse_ipv4(pod.status().pod_ip());
      uint16_t target = target_port_for(sp, &pod);
      if (!ip || !target) continue;
      Endpoint e;
      e.ip = ip;
      e.port = target;
      e.labels = r->meta.labels;
      e.pod = r->meta.ns + "/" + r->meta.name;
      e.node_name = pod.spec().node_name();
      e.host_ip = parse_ipv4(pod.status().host_ip());
      port.endpoints.push_back(std::move(e));
    }
  }

  void add_service_entries() {
    for (const auto& r : snap_.resources.service_entries) {
      const net::ServiceEntry& se = r->spec;
      for (const std::string& host : se.hosts()) {
        if (snap_.services.count(host)) {
          sink_.set_context(r->source.file, r->meta.id());
          sink_.warning(r->source.line_of("spec.hosts"), "spec.hosts",
                        "host " + host + " is already defined by another service; ignored");
          continue;
        }
        auto s = std::make_shared<Service>();
        s->fqdn = host;
        s->name = r->meta.name;
        s->ns = r->meta.ns;
        s->from_service_entry = true;
        if (se.addresses_size() > 0) s->vip = parse_ipv4(se.addresses(0));
        for (const auto& sp : se.ports()) {
          ServicePort port;
          port.name = sp.name();
          port.port = static_cast<uint16_t>(sp.number());
          port.l4_proto = l4_proto_of(sp.protocol());
          port.protocol = select_protocol("", sp.protocol().empty() ? sp.name() : sp.protocol(), sp.protocol());
          if (se.resolution() == net::ServiceEntry::STATIC) {
            for (const auto& we : se.endpoints()) {
              Endpoint e;
              e.ip = parse_ipv4(we.address());
              auto named = we.ports().find(sp.name());
              e.port = static_cast<uint16_t>(named != we.ports().end() ? named->second
                                             : sp.target_port()      ? sp.target_port()
                                                                     : sp.number());
              e.labels = to_map(we.labels());
              e.weight = we.weight() ? we.weight() : 1;
              if (e.ip) port.endpoints.push_back(std::move(e));
            }
          }
          s->ports.push_back(std::move(port));
        }
        apply_rule(*s, rule_for(host));
        resolve_policies(*s);
        compute_l4(*s);
        snap_.services[host] = std::move(s);
      }
    }
  }

  static sl_lb_algo kernel_algo(const LoadBalancerPolicy& lb) {
    switch (lb.kind) {
      case LoadBalancerPolicy::Kind::kRoundRobin: return SL_LB_ROUND_ROBIN;
      case LoadBalancerPolicy::Kind::kLeastRequest: return SL_LB_LEAST_REQUEST;
      case LoadBalancerPolicy::Kind::kConsistentHash: return SL_LB_CONSISTENT_HASH;
      default: return SL_LB_RANDOM;  // RANDOM, and PASSTHROUGH (no choice to keep at L4)
    }
  }

  // A service's ports as kernel L4 services, computed once per built service.
  static void compute_l4(Service& s) {
    if (!s.vip) return;
    for (const ServicePort& p : s.ports) {
      ServiceSpec spec;
      spec.vip = s.vip;
      spec.port = p.port;
      spec.proto = p.l4_proto;
      spec.algo = kernel_algo(p.policy.load_balancer);
      spec.max_conns = p.policy.connection_pool.max_connections;
      spec.l7 = p.l4_proto == 6 && is_http(p.protocol);
      spec.socket_redirect = s.socket_redirect;
      // Ring hash has no kernel form; the kernel always uses Maglev.
      spec.maglev_size = p.policy.load_balancer.ring_hash
                             ? static_cast<uint32_t>(kMaglevDefaultTableSize)
                             : static_cast<uint32_t>(p.policy.load_balancer.table_size);
      spec.backends.reserve(p.endpoints.size());
      for (const Endpoint& e : p.endpoints) spec.backends.push_back({e.ip, e.port, e.weight, false});
      std::sort(spec.backends.begin(), spec.backends.end(), [](const BackendSpec& a, const BackendSpec& b) {
        return std::tie(a.addr, a.port) < std::tie(b.addr, b.port);
      });
      // Two endpoints with one address (an IP listed twice) are one backend.
      spec.backends.erase(std::unique(spec.backends.begin(), spec.backends.end(),
                                      [](const BackendSpec& a, const BackendSpec& b) { return a.same_endpoint(b); }),
                          spec.backends.end());
      if (spec.backends.size() > SL_MAX_SLOTS) spec.backends.resize(SL_MAX_SLOTS);
      s.l4.push_back(std::move(spec));
    }
  }

  void build_l4_view() {
    for (const auto& [fqdn, s] : snap_.services) {
      for (const ServiceSpec& spec : s->l4) {
        snap_.l4_services.try_emplace(l4_key(spec), spec);  // validation reports VIP clashes
      }
    }
  }

  static int64_t to_ms(const google::protobuf::Duration& d) { return d.seconds() * 1000 + d.nanos() / 1000000; }

  std::vector<RouteDestination> destinations(const auto& routes, const std::string& ns) const {
    std::vector<RouteDestination> out;
    for (const auto& r : routes) {
      const auto& d = r.destination();
      out.push_back({resolve_host(d.host(), ns, snap_.domain), d.subset(), d.has_port() ? d.port().number() : 0,
                     routes.size() == 1 && r.weight() == 0 ? 100 : r.weight()});
    }
    return out;
  }

  // Istio: no `retries` means 2 attempts on the default conditions; an empty
  // retryOn keeps the default conditions; a route with a fault gets neither
  // retries nor a timeout.
  static void resolve_timeouts(const net::HTTPRoute& r, HttpRoute& out) {
    if (r.has_fault()) {
      out.retries.attempts = 0;
      return;
    }
    if (r.has_timeout()) out.timeout_ms = to_ms(r.timeout());
    if (r.has_retries()) {
      out.retries.attempts = static_cast<uint32_t>(std::max(0, r.retries().attempts()));
      if (r.retries().has_per_try_timeout()) out.retries.per_try_timeout_ms = to_ms(r.retries().per_try_timeout());
      if (!r.retries().retry_on().empty()) out.retries.retry_on = r.retries().retry_on();
    }
  }

  void resolve_routes() {
    for (const auto& r : snap_.resources.virtual_services) {
      const net::VirtualService& vs = r->spec;
      const std::string id = r->meta.ns + "/" + r->meta.name;
      HostRoutes routes;
      for (const auto& h : vs.http()) {
        HttpRoute route{id, &h, destinations(h.route(), r->meta.ns)};
        resolve_timeouts(h, route);
        routes.http.push_back(std::move(route));
      }
      for (const auto& t : vs.tcp()) routes.tcp.push_back({id, &t, destinations(t.route(), r->meta.ns)});

      std::vector<RouteTable*> tables;
      if (vs.gateways().empty()) tables.push_back(&snap_.mesh_routes);
      for (const std::string& gw : vs.gateways()) {
        const std::string name = resolve_gateway_name(gw, r->meta.ns);
        tables.push_back(name == "mesh" ? &snap_.mesh_routes : &snap_.gateway_routes[name]);
      }
      for (const std::string& host : vs.hosts()) {
        const std::string fqdn = resolve_host(host, r->meta.ns, snap_.domain);
        for (RouteTable* table : tables) {
          if (!table->emplace(fqdn, routes).second) {
            sink_.set_context(r->source.file, r->meta.id());
            sink_.warning(r->source.line_of("spec.hosts"), "spec.hosts",
                          "host " + fqdn + " already has routes from an earlier VirtualService; this one is ignored for it");
          }
        }
      }
    }
  }

  MeshSnapshot& snap_;
  DiagnosticSink sink_;
  BuildMemo* memo_;
  std::unordered_map<std::string, BuildMemo::Entry> next_memo_;
  std::unordered_map<std::string, std::vector<SliceRef>> slices_;
  std::unordered_map<std::string, std::vector<PodRef>> pods_by_label_;
  std::unordered_map<std::string, RuleRef> rules_;
};

}  // namespace

bool BuildMemo::Entry::same_inputs(const std::vector<std::shared_ptr<const void>>& other) const {
  if (inputs.size() != other.size()) return false;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].get() != other[i].get()) return false;
  }
  return true;
}

BuildResult build_snapshot(LoadResult loaded, uint64_t version, BuildMemo* memo) {
  BuildResult result;
  result.diagnostics = std::move(loaded.diagnostics);
  auto snap = std::make_shared<MeshSnapshot>();
  snap->version = version;
  snap->resources = std::move(loaded.resources);
  Builder(*snap, result.diagnostics, memo).run();
  validate_snapshot(*snap, result.diagnostics, memo ? &memo->validation : nullptr);
  if (has_errors(result.diagnostics)) return result;
  for (const Diagnostic& d : result.diagnostics) snap->warnings.push_back(d);
  result.snapshot = std::move(snap);
  return result;
}

BuildResult load_snapshot(const std::vector<std::string>& paths, uint64_t version, ResourceCache* cache) {
  return build_snapshot(load_resources(paths, cache), version);
}

}  // namespace sluice::config
