#include "references.h"

#include <set>

#include "mesh_snapshot.h"
#include "resource_checks.h"

namespace sluice::config {

namespace net = istio::networking;

namespace {

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

class ReferenceChecker {
 public:
  ReferenceChecker(const ResourceSet& rs, const std::string& domain, const ReferenceTargets& targets)
      : domain_(domain), targets_(targets) {
    for (const auto& r : rs.service_entries) {
      for (const std::string& h : r->spec.hosts()) {
        if (h.starts_with("*")) wildcard_hosts_.push_back(h);
      }
    }
    for (const auto& r : rs.gateways) gateways_.insert(r->meta.ns + "/" + r->meta.name);
    for (const auto& r : rs.secrets) secrets_.insert(r->meta.ns + "/" + r->meta.name);
  }

  void virtual_service(ResourceChecker& c, const net::VirtualService& vs) {
    gateways(c, "spec.gateways", vs.gateways());
    for (int i = 0; i < vs.http_size(); ++i) {
      const auto& r = vs.http(i);
      const std::string p = idx("spec.http", i);
      for (int m = 0; m < r.match_size(); ++m) gateways(c, idx(p + ".match", m) + ".gateways", r.match(m).gateways());
      for (int d = 0; d < r.route_size(); ++d) destination(c, idx(p + ".route", d) + ".destination", r.route(d).destination());
      if (r.has_mirror()) destination(c, p + ".mirror", r.mirror());
      for (int m = 0; m < r.mirrors_size(); ++m) destination(c, idx(p + ".mirrors", m) + ".destination", r.mirrors(m).destination());
    }
    l4_routes(c, "spec.tcp", vs.tcp());
    l4_routes(c, "spec.tls", vs.tls());
  }

  void destination_rule(ResourceChecker& c, const net::DestinationRule& dr) {
    const std::string fqdn = resolve_host(dr.host(), c.meta().ns, domain_);
    if (!dr.host().empty() && !has_host(fqdn)) c.warning("spec.host", "host " + fqdn + " matches no service");
  }

  // A credentialName names a Secret in the Gateway's namespace.
  void gateway(ResourceChecker& c, const net::Gateway& gw) {
    for (int i = 0; i < gw.servers_size(); ++i) {
      const std::string& name = gw.servers(i).tls().credential_name();
      if (name.empty() || secrets_.count(c.meta().ns + "/" + name)) continue;
      c.finding(idx("spec.servers", i) + ".tls.credentialName", kReferencedResourceNotFound,
                "Referenced credentialName not found: " + quoted(name));
    }
  }

 private:
  bool has_host(const std::string& fqdn) const {
    if (fqdn.find('*') != std::string::npos || targets_.has_service(fqdn)) return true;
    for (const std::string& w : wildcard_hosts_) {
      if (host_subset_of(fqdn, w)) return true;
    }
    return false;
  }

  void destination(ResourceChecker& c, const std::string& path, const net::Destination& d) {
    if (d.host().empty()) return;  // the one-resource checks report it
    const std::string fqdn = resolve_host(d.host(), c.meta().ns, domain_);
    if (!has_host(fqdn)) {
      c.finding(path + ".host", kReferencedResourceNotFound, "Referenced host not found: " + quoted(d.host()));
    }
    if (!d.subset().empty() && !targets_.has_subset(fqdn, d.subset())) {
      c.finding(path + ".subset", kReferencedResourceNotFound,
                "Referenced host+subset in destinationrule not found: " + quoted(d.host() + "+" + d.subset()));
    }
  }

  void gateways(ResourceChecker& c, const std::string& path, const google::protobuf::RepeatedPtrField<std::string>& names) {
    for (int i = 0; i < names.size(); ++i) {
      const std::string id = resolve_gateway_name(names[i], c.meta().ns);
      if (id != "mesh" && !gateways_.count(id)) {
        c.finding(idx(path, i), kReferencedResourceNotFound, "Referenced gateway not found: " + quoted(names[i]));
      }
    }
  }

  template <class Routes>
  void l4_routes(ResourceChecker& c, const std::string& path, const Routes& routes) {
    for (int i = 0; i < routes.size(); ++i) {
      const std::string p = idx(path, i);
      for (int m = 0; m < routes[i].match_size(); ++m) gateways(c, idx(p + ".match", m) + ".gateways", routes[i].match(m).gateways());
      for (int d = 0; d < routes[i].route_size(); ++d) {
        destination(c, idx(p + ".route", d) + ".destination", routes[i].route(d).destination());
      }
    }
  }

  const std::string& domain_;
  const ReferenceTargets& targets_;
  std::vector<std::string> wildcard_hosts_;
  std::set<std::string> gateways_;
  std::set<std::string> secrets_;
};

}  // namespace

void check_references(const ResourceSet& rs, const std::string& domain, const ReferenceTargets& targets,
                      std::vector<Diagnostic>& out) {
  ReferenceChecker refs(rs, domain, targets);
  for (const auto& r : rs.virtual_services) {
    ResourceChecker c(r->source, r->meta, out);
    refs.virtual_service(c, r->spec);
  }
  for (const auto& r : rs.destination_rules) {
    ResourceChecker c(r->source, r->meta, out);
    refs.destination_rule(c, r->spec);
  }
  for (const auto& r : rs.gateways) {
    ResourceChecker c(r->source, r->meta, out);
    refs.gateway(c, r->spec);
  }
}

}  // namespace sluice::config
