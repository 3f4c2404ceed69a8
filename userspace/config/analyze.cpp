#include "analyze.h"

#include <algorithm>
#include <map>
#include <set>

#include "mesh_snapshot.h"
#include "references.h"
#include "resource_checker.h"
#include "resource_loader.h"
#include "validate.h"

namespace sluice::config {

namespace {

// Services and subsets as the resources declare them: every DestinationRule
// of a host counts, as in istioctl analyze.
class ResourceTargets final : public ReferenceTargets {
 public:
  ResourceTargets(const ResourceSet& rs, const std::string& domain) {
    for (const auto& r : rs.services) services_.insert(kubernetes_fqdn(r->meta, domain));
    for (const auto& r : rs.service_entries) services_.insert(r->spec.hosts().begin(), r->spec.hosts().end());
    for (const auto& r : rs.destination_rules) {
      auto& names = subsets_[resolve_host(r->spec.host(), r->meta.ns, domain)];
      for (const auto& s : r->spec.subsets()) names.insert(s.name());
    }
  }
  bool has_service(const std::string& fqdn) const override { return services_.count(fqdn) > 0; }
  bool has_subset(const std::string& fqdn, const std::string& subset) const override {
    auto it = subsets_.find(fqdn);
    return it != subsets_.end() && it->second.count(subset) > 0;
  }

 private:
  std::set<std::string> services_;
  std::map<std::string, std::set<std::string>> subsets_;
};

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

// IST0109: VirtualServices of the mesh gateway that define the same host;
// which one Istio uses is undefined (sluice takes the first).
void mesh_host_conflicts(const ResourceSet& rs, const std::string& domain, std::vector<Diagnostic>& out) {
  using Vs = std::shared_ptr<const IstioResource<istio::networking::VirtualService>>;
  std::map<std::string, std::vector<std::pair<Vs, int>>> by_host;  // FQDN -> (VirtualService, index in hosts)
  for (const auto& r : rs.virtual_services) {
    const auto& gws = r->spec.gateways();
    if (!gws.empty() && std::find(gws.begin(), gws.end(), "mesh") == gws.end()) continue;
    std::set<std::string> mine;
    for (int i = 0; i < r->spec.hosts_size(); ++i) {
      const std::string fqdn = resolve_host(r->spec.hosts(i), r->meta.ns, domain);
      if (mine.insert(fqdn).second) by_host[fqdn].emplace_back(r, i);
    }
  }
  for (const auto& [host, list] : by_host) {
    if (list.size() < 2) continue;
    std::vector<std::string> names;
    for (const auto& [vs, i] : list) names.push_back(vs->meta.ns + "/" + vs->meta.name);
    for (const auto& [vs, i] : list) {
      ResourceChecker c(vs->source, vs->meta, out);
      c.finding(idx("spec.hosts", i), kConflictingMeshGatewayVirtualServiceHosts,
                "The VirtualServices " + join(names, ",") + " associated with mesh gateway define the same host " + host +
                    " which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices "
                    "into a single resource.");
    }
  }
}

// IST0111: Sidecars without a workload selector in one namespace.
void sidecars_without_selectors(const ResourceSet& rs, std::vector<Diagnostic>& out) {
  std::map<std::string, std::vector<const IstioResource<istio::networking::Sidecar>*>> by_ns;
  for (const auto& r : rs.sidecars) {
    if (!r->spec.has_workload_selector()) by_ns[r->meta.ns].push_back(r.get());
  }
  for (const auto& [ns, list] : by_ns) {
    if (list.size() < 2) continue;
    std::vector<std::string> names;
    for (const auto* r : list) names.push_back(r->meta.name);
    for (const auto* r : list) {
      ResourceChecker c(r->source, r->meta, out);
      c.finding("spec", kMultipleSidecarsWithoutWorkloadSelectors,
                "The Sidecars [" + join(names, " ") + "] in namespace \"" + ns +
                    "\" have no workload selector, which can lead to undefined behavior.");
    }
  }
}

}  // namespace

std::vector<Diagnostic> validate_files(const std::vector<std::string>& paths) {
  LoadResult loaded = load_resources(paths);
  std::vector<Diagnostic> out = std::move(loaded.diagnostics);
  validate_resources(loaded.resources, out);
  return out;
}

std::vector<Diagnostic> analyze_files(const std::vector<std::string>& paths) {
  LoadResult loaded = load_resources(paths);
  std::vector<Diagnostic> out = std::move(loaded.diagnostics);
  validate_resources(loaded.resources, out);
  std::vector<Diagnostic> across = analyze_resources(loaded.resources);
  out.insert(out.end(), across.begin(), across.end());
  return out;
}

std::vector<Diagnostic> analyze_resources(const ResourceSet& rs, const std::string& domain) {
  std::vector<Diagnostic> out;
  check_references(rs, domain, ResourceTargets(rs, domain), out);
  mesh_host_conflicts(rs, domain, out);
  sidecars_without_selectors(rs, out);
  return out;
}

std::string analysis_level(const Diagnostic& d) {
  static const std::set<std::string> kErrorCodes = {kReferencedResourceNotFound, kConflictingMeshGatewayVirtualServiceHosts,
                                                    kMultipleSidecarsWithoutWorkloadSelectors};
  return d.severity == Severity::kError || kErrorCodes.count(d.code) ? "Error" : "Warning";
}

std::string format_analysis(const Diagnostic& d) {
  const bool schema_error = d.code.empty() && d.severity == Severity::kError;
  std::string s = analysis_level(d);
  if (!d.code.empty()) s += " [" + d.code + "]";
  if (schema_error) s += std::string(" [") + kSchemaValidationError + "]";
  std::string origin = d.resource;
  if (!d.file.empty()) origin += (origin.empty() ? "" : " ") + d.file + (d.line > 0 ? ":" + std::to_string(d.line) : "");
  if (!origin.empty()) s += " (" + origin + ")";
  s += " ";
  if (schema_error) s += "Schema validation error: ";
  if (!d.field.empty()) s += d.field + ": ";
  return s + d.message;
}

}  // namespace sluice::config
