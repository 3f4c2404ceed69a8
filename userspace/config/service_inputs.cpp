#include "service_inputs.h"

#include <algorithm>

#include "ip_text.h"
#include "label_selector.h"
#include "snapshot_builder.h"

namespace sluice::config {

namespace net = istio::networking;

uint32_t ipv4_of(const std::string& s) {
  uint32_t addr = 0;
  return parse_ipv4(std::string_view(s).substr(0, s.find('/')), addr) ? addr : 0;
}

uint8_t l4_proto_of(const std::string& protocol) { return protocol == "UDP" ? 17 : 6; }

namespace {

template <class T>
void erase_one(std::vector<T>& v, const T& item) {
  auto it = std::find(v.begin(), v.end(), item);
  if (it != v.end()) v.erase(it);
}

template <class Refs>
void sort_by_name(Refs& refs) {
  std::sort(refs.begin(), refs.end(), [](const auto& a, const auto& b) {
    return std::tie(a->meta.ns, a->meta.name) < std::tie(b->meta.ns, b->meta.name);
  });
}

// targetPort of a Service port for one pod: a number, a container port
// name, or (absent) the service port itself.
uint16_t target_port_for(const k8s::ServicePort& sp, const k8s::Pod* pod) {
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

// What the XDP load balancer needs: the addresses external clients use,
// who may use them, and whether only local endpoints serve them.
void add_external_addresses(const k8s::Service& svc, Service& s) {
  auto add_ip = [&](const std::string& text) {
    uint32_t ip = ipv4_of(text);
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

// The labels of slice endpoints: those of their pods, found by the
// endpoint's targetRef or, without one, by address. Subsets select on them.
class PodLabels {
 public:
  explicit PodLabels(const std::vector<ServiceInputs::PodRef>& pods) {
    for (const auto& p : pods) {
      by_name_.emplace(p->meta.ns + "/" + p->meta.name, &p);
      if (!p->object.status().pod_ip().empty()) by_ip_.emplace(p->object.status().pod_ip(), &p);
    }
  }
  // By the endpoint's pod ("namespace/name") if it names one, else by
  // address. The labels share ownership of their pod's resource.
  std::shared_ptr<const Labels> find(const std::string& pod, const std::string& addr) const {
    const auto& index = pod.empty() ? by_ip_ : by_name_;
    auto it = index.find(pod.empty() ? addr : pod);
    if (it == index.end()) return nullptr;
    const ServiceInputs::PodRef& found = *it->second;
    return {found, &found->meta.labels};
  }

 private:
  // Into the vector given to the constructor, which outlives this index.
  std::unordered_map<std::string, const ServiceInputs::PodRef*> by_name_, by_ip_;
};

void add_slice_endpoints(const std::vector<ServiceInputs::SliceRef>& slices, const std::vector<ServiceInputs::PodRef>& pods,
                         const k8s::ServicePort& sp, ServicePort& port) {
  const PodLabels labels(pods);
  for (const auto& ref : slices) {
    const k8s::EndpointSlice& slice = ref->object;
    if (!slice.address_type().empty() && slice.address_type() != "IPv4") continue;
    uint16_t target = 0;
    for (const auto& p : slice.ports()) {
      if (p.name() == sp.name()) target = static_cast<uint16_t>(p.port());
    }
    if (!target) continue;
    for (const auto& ep : slice.endpoints()) {
      // Kubernetes: a nil "ready" means ready.
      if (ep.has_conditions() && ep.conditions().has_ready() && !ep.conditions().ready().value()) continue;
      for (const auto& addr : ep.addresses()) {
        if (uint32_t ip = ipv4_of(addr)) {
          Endpoint e;
          e.ip = ip;
          e.port = target;
          if (ep.has_target_ref()) e.pod = ep.target_ref().namespace_() + "/" + ep.target_ref().name();
          e.labels = labels.find(e.pod, addr);
          e.node_name = ep.node_name();
          port.endpoints.push_back(std::move(e));
        }
      }
    }
  }
}

void add_pod_endpoints(const std::vector<ServiceInputs::PodRef>& pods, const k8s::ServicePort& sp, ServicePort& port) {
  for (const auto& r : pods) {
    const k8s::Pod& pod = r->object;
    const std::string& phase = pod.status().phase();
    if (!phase.empty() && phase != "Running") continue;
    uint32_t ip = ipv4_of(pod.status().pod_ip());
    uint16_t target = target_port_for(sp, &pod);
    if (!ip || !target) continue;
    Endpoint e;
    e.ip = ip;
    e.port = target;
    e.labels = std::shared_ptr<const Labels>(r, &r->meta.labels);
    e.pod = r->meta.ns + "/" + r->meta.name;
    e.node_name = pod.spec().node_name();
    e.host_ip = ipv4_of(pod.status().host_ip());
    port.endpoints.push_back(std::move(e));
  }
}

}  // namespace

std::string ServiceInputs::slice_owner(const Meta& slice) {
  auto it = slice.labels.find("kubernetes.io/service-name");
  return it == slice.labels.end() ? std::string() : key(slice.ns, it->second);
}

void ServiceInputs::add(const ServiceRef& r) { services_.emplace(key(r->meta.ns, r->meta.name), r); }

void ServiceInputs::remove(const ServiceRef& r) {
  auto it = services_.find(key(r->meta.ns, r->meta.name));
  if (it != services_.end() && it->second == r) services_.erase(it);
}

ServiceInputs::ServiceRef ServiceInputs::service(const std::string& key) const {
  auto it = services_.find(key);
  return it == services_.end() ? nullptr : it->second;
}

void ServiceInputs::add(const SliceRef& r) {
  if (std::string owner = slice_owner(r->meta); !owner.empty()) slices_[owner].push_back(r);
}

void ServiceInputs::remove(const SliceRef& r) {
  auto it = slices_.find(slice_owner(r->meta));
  if (it == slices_.end()) return;
  erase_one(it->second, r);
  if (it->second.empty()) slices_.erase(it);
}

void ServiceInputs::add(const PodRef& r) {
  for (const auto& [k, v] : r->meta.labels) pods_by_label_[label_key(r->meta.ns, k, v)].push_back(r);
}

void ServiceInputs::remove(const PodRef& r) {
  for (const auto& [k, v] : r->meta.labels) {
    auto it = pods_by_label_.find(label_key(r->meta.ns, k, v));
    if (it == pods_by_label_.end()) continue;
    erase_one(it->second, r);
    if (it->second.empty()) pods_by_label_.erase(it);
  }
}

bool ServiceInputs::add_rule(const std::string& host, const RuleRef& r) { return rules_.emplace(host, r).second; }

ServiceInputs::VirtualServiceRef ServiceInputs::l4_routes_for(const std::string& fqdn) const {
  auto it = l4_routes_.find(fqdn);
  return it == l4_routes_.end() ? nullptr : it->second;
}

ServiceInputs::RuleRef ServiceInputs::rule_for(const std::string& fqdn) const {
  auto it = rules_.find(fqdn);
  return it == rules_.end() ? nullptr : it->second;
}

std::vector<ServiceInputs::SliceRef> ServiceInputs::slices_of(const Meta& svc) const {
  auto it = slices_.find(key(svc.ns, svc.name));
  if (it == slices_.end()) return {};
  std::vector<SliceRef> out = it->second;
  sort_by_name(out);
  return out;
}

// Walks the shortest posting list among the selector's pairs.
std::vector<ServiceInputs::PodRef> ServiceInputs::pods_for(
    const std::string& ns, const google::protobuf::Map<std::string, std::string>& selector) const {
  const std::vector<PodRef>* shortest = nullptr;
  for (const auto& [k, v] : selector) {
    auto it = pods_by_label_.find(label_key(ns, k, v));
    if (it == pods_by_label_.end()) return {};
    if (!shortest || it->second.size() < shortest->size()) shortest = &it->second;
  }
  std::vector<PodRef> out;
  if (!shortest) return out;
  for (const PodRef& p : *shortest) {
    if (selector_matches(selector, p->meta.labels)) out.push_back(p);
  }
  sort_by_name(out);
  return out;
}

ServiceInputs::Sources ServiceInputs::sources_of(const K8sResource<k8s::Service>& r, const std::string& fqdn) const {
  Sources out;
  out.rule = rule_for(fqdn);
  out.l4_routes = l4_routes_for(fqdn);
  out.slices = slices_of(r.meta);
  // With slices too: the selected pods give the slices' endpoints their
  // labels, which subsets select on.
  if (!r.object.spec().selector().empty()) out.pods = pods_for(r.meta.ns, r.object.spec().selector());
  return out;
}

std::vector<std::shared_ptr<const void>> ServiceInputs::Sources::identity(const ServiceRef& r) const {
  std::vector<std::shared_ptr<const void>> out = {r, rule, l4_routes};
  out.insert(out.end(), slices.begin(), slices.end());
  out.insert(out.end(), pods.begin(), pods.end());
  return out;
}

std::shared_ptr<const Service> ServiceInputs::build(const K8sResource<k8s::Service>& r, const std::string& fqdn,
                                                    const Sources& from) {
  auto s = std::make_shared<Service>();
  s->name = r.meta.name;
  s->ns = r.meta.ns;
  s->fqdn = fqdn;
  const std::string& cip = r.object.spec().cluster_ip();
  s->vip = cip == "None" ? 0 : ipv4_of(cip);
  for (const auto& sp : r.object.spec().ports()) {
    ServicePort port;
    port.name = sp.name();
    port.port = static_cast<uint16_t>(sp.port());
    port.l4_proto = l4_proto_of(sp.protocol());
    port.protocol = select_protocol(sp.app_protocol(), sp.name(), sp.protocol());
    if (!from.slices.empty()) {
      add_slice_endpoints(from.slices, from.pods, sp, port);
    } else {
      add_pod_endpoints(from.pods, sp, port);
    }
    port.endpoints.shrink_to_fit();  // a snapshot keeps them: no growth slack at 100k endpoints
    s->ports.push_back(std::move(port));
  }
  add_external_addresses(r.object, *s);
  if (auto a = r.object.metadata().annotations().find(kSocketRedirectAnnotation);
      a != r.object.metadata().annotations().end()) {
    s->socket_redirect = a->second != "off" && a->second != "false";
  }
  apply_destination_rule(*s, from.rule.get());
  mark_daemon_ports(*s, from.l4_routes ? &from.l4_routes->spec : nullptr);
  return s;
}

void apply_destination_rule(Service& s, const IstioResource<net::DestinationRule>* rule) {
  if (rule) {
    if (rule->spec.has_traffic_policy()) s.policy = &rule->spec.traffic_policy();
    for (const auto& sub : rule->spec.subsets()) {
      s.subsets.push_back({sub.name(), {sub.labels().begin(), sub.labels().end()},
                           sub.has_traffic_policy() ? &sub.traffic_policy() : nullptr});
    }
  }
  for (ServicePort& p : s.ports) p.policy = resolve_policy(s.policy, nullptr, p.port);
}

bool l4_routes_take_port(const istio::networking::VirtualService& vs, uint32_t port, Protocol protocol) {
  auto takes = [port](const auto& matches) {
    return std::any_of(matches.begin(), matches.end(), [port](const auto& m) { return m.port() == 0 || m.port() == port; });
  };
  for (const auto& route : vs.tcp()) {
    if (route.match().empty() || takes(route.match())) return true;
  }
  if (!is_tls(protocol)) return false;
  for (const auto& route : vs.tls()) {
    if (takes(route.match())) return true;
  }
  return false;
}

void mark_daemon_ports(Service& s, const istio::networking::VirtualService* l4_routes) {
  for (ServicePort& p : s.ports) {
    p.via_daemon = p.l4_proto == 6 && (is_http(p.protocol) || (l4_routes && l4_routes_take_port(*l4_routes, p.port, p.protocol)));
  }
}

}  // namespace sluice::config
