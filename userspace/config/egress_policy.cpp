#include "egress_policy.h"

#include <algorithm>

#include "ip_text.h"
#include "mesh_snapshot.h"
#include "snapshot_builder.h"

namespace sluice::config {

namespace {

void add_range(std::vector<Ipv4Range>& out, const std::string& text) {
  Ipv4Range r;
  // Hostnames (DNS resolution) and IPv6 are not ranges here.
  if (parse_ipv4_cidr(text, r.net, r.prefix_len)) out.push_back(r);
}

}  // namespace

EgressPolicy egress_policy_of(const ResourceSet& resources, std::string_view root_namespace) {
  EgressPolicy p;
  for (const auto& r : resources.sidecars) {
    const auto& sc = r->spec;
    if (r->meta.ns != root_namespace || sc.has_workload_selector() || !sc.has_outbound_traffic_policy()) continue;
    // Istio allows one selector-less Sidecar per namespace; should there be
    // several, the first by name decides, so the outcome does not depend on
    // the order of the files.
    const std::string id = r->meta.ns + "/" + r->meta.name;
    if (!p.set_by.empty() && id > p.set_by) continue;
    p.set_by = id;
    p.registry_only = sc.outbound_traffic_policy().mode() == istio::networking::OutboundTrafficPolicy::REGISTRY_ONLY;
  }
  using SE = istio::networking::ServiceEntry;
  for (const auto& r : resources.service_entries) {
    for (const std::string& a : r->spec.addresses()) add_range(p.registered, a);
    for (const auto& ep : r->spec.endpoints()) add_range(p.registered, ep.address());
    const auto resolution = r->spec.resolution();
    if (resolution != SE::DNS && resolution != SE::DNS_ROUND_ROBIN) continue;
    const bool http = std::any_of(r->spec.ports().begin(), r->spec.ports().end(), [](const auto& port) {
      return is_http(select_protocol("", port.protocol().empty() ? port.name() : port.protocol(), port.protocol()));
    });
    if (http) {
      for (const std::string& h : r->spec.hosts()) {
        if (!h.starts_with("*")) p.proxied_hosts.insert(h);
      }
    }
    bool named_endpoints = false;
    for (const auto& ep : r->spec.endpoints()) {
      Ipv4Range ignored;
      if (ep.address().empty() || ep.address().starts_with("unix://") ||
          parse_ipv4_cidr(ep.address(), ignored.net, ignored.prefix_len)) {
        continue;
      }
      p.dns_hosts.insert(ep.address());
      if (http) p.proxied_hosts.insert(ep.address());
      named_endpoints = true;
    }
    // Without endpoints, Istio resolves the hosts themselves.
    if (!named_endpoints && r->spec.endpoints().empty()) {
      for (const std::string& h : r->spec.hosts()) {
        if (!h.starts_with("*")) p.dns_hosts.insert(h);
      }
    }
  }
  std::sort(p.registered.begin(), p.registered.end());
  p.registered.erase(std::unique(p.registered.begin(), p.registered.end()), p.registered.end());
  return p;
}

}  // namespace sluice::config
