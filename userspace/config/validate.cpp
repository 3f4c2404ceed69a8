#include "validate.h"

#include "references.h"
#include "resource_checks.h"
#include "unimplemented_fields.h"

namespace sluice::config {

namespace {

// Services and subsets as the snapshot resolved them (the first
// DestinationRule of a host defines its subsets, as in Istio).
class SnapshotTargets final : public ReferenceTargets {
 public:
  explicit SnapshotTargets(const MeshSnapshot& snap) : snap_(snap) {}
  bool has_service(const std::string& fqdn) const override { return snap_.find_service(fqdn) != nullptr; }
  bool has_subset(const std::string& fqdn, const std::string& subset) const override {
    const Service* s = snap_.find_service(fqdn);
    if (!s) return false;
    for (const Subset& sub : s->subsets) {
      if (sub.name == subset) return true;
    }
    return false;
  }

 private:
  const MeshSnapshot& snap_;
};

void check_spec(ResourceChecker& c, const istio::networking::VirtualService& s) { check_virtual_service(c, s); }
void check_spec(ResourceChecker& c, const istio::networking::DestinationRule& s) { check_destination_rule(c, s); }
void check_spec(ResourceChecker& c, const istio::networking::ServiceEntry& s) { check_service_entry(c, s); }
void check_spec(ResourceChecker& c, const istio::networking::Gateway& s) { check_gateway(c, s); }
void check_spec(ResourceChecker& c, const istio::networking::Sidecar& s) { check_sidecar(c, s); }
void check_spec(ResourceChecker& c, const istio::networking::EnvoyFilter& s) { check_envoy_filter(c, s); }
void check_spec(ResourceChecker& c, const istio::security::AuthorizationPolicy& s) { check_authorization_policy(c, s); }
void check_spec(ResourceChecker& c, const istio::sluice::RateLimitPolicy& s) { check_rate_limit_policy(c, s); }

// Everything about one resource: Istio's rules for its kind, then what of
// it sluice does not implement.
template <class Spec>
std::vector<Diagnostic> check_alone(const IstioResource<Spec>& r) {
  std::vector<Diagnostic> found;
  ResourceChecker c(r.source, r.meta, found);
  check_spec(c, r.spec);
  check_unimplemented(r.spec, r.source, r.meta, found);
  return found;
}

std::vector<Diagnostic> check_alone(const K8sResource<k8s::Service>& r) {
  std::vector<Diagnostic> found;
  ResourceChecker c(r.source, r.meta, found);
  check_kubernetes_service(c, r.object);
  return found;
}

using IdKey = ValidationMemo::IdKey;
using IdHash = ValidationMemo::IdHash;

// The same kind/namespace/name twice: the second is an error. Pass one
// counts every resource's id by hash (what the memo keeps); only ids counted
// twice, which admission makes rare, are compared exactly in pass two.
template <class F>
void for_each_named_list(const ResourceSet& rs, F&& f) {  // every kind but Namespaces
  f(rs.virtual_services), f(rs.destination_rules), f(rs.service_entries), f(rs.gateways), f(rs.sidecars);
  f(rs.envoy_filters), f(rs.authorization_policies), f(rs.rate_limit_policies), f(rs.services), f(rs.pods);
  f(rs.endpoint_slices);
  f(rs.secrets);
}

std::unordered_map<uint64_t, uint32_t> check_duplicates(const ResourceSet& rs, std::vector<Diagnostic>& out) {
  auto key = [](const auto& r) { return IdKey{r->meta.kind, r->meta.ns, r->meta.name}; };
  std::unordered_map<uint64_t, uint32_t> ids;
  ids.reserve(rs.services.size() + rs.pods.size() + rs.endpoint_slices.size() + 64);
  bool twice = false;
  for_each_named_list(rs, [&](const auto& list) {
    for (const auto& r : list) twice = ++ids[IdHash()(key(r))] > 1 || twice;
  });
  if (!twice) return ids;
  std::unordered_set<IdKey, IdHash> seen;
  for_each_named_list(rs, [&](const auto& list) {
    for (const auto& r : list) {
      if (ids[IdHash()(key(r))] < 2 || seen.insert(key(r)).second) continue;
      DiagnosticSink sink(out);
      sink.set_context(r->source.file(), r->meta.id());
      sink.error(r->source.line, "metadata.name", "duplicate resource: " + r->meta.id() + " is defined more than once");
    }
  });
  return ids;
}

// Checks of one resource alone, reused from the memo while the resource is
// the same object (its file did not change).
template <class Resources>
void local_checks(const Resources& rs, ValidationMemo* memo, ValidationMemo& next, std::vector<Diagnostic>& out) {
  for (const auto& r : rs) {
    std::vector<Diagnostic> found;
    const std::vector<Diagnostic>* cached = nullptr;
    if (memo) {
      auto it = memo->local.find(r.get());
      if (it != memo->local.end()) cached = &it->second.second;
    }
    found = cached ? *cached : check_alone(*r);
    out.insert(out.end(), found.begin(), found.end());
    if (memo) next.local.emplace(r.get(), std::make_pair(std::shared_ptr<const void>(r), std::move(found)));
  }
}

// The kinds with checks of their own (Pods, EndpointSlices and Secrets
// have none).
void all_local_checks(const ResourceSet& rs, ValidationMemo* memo, ValidationMemo& next, std::vector<Diagnostic>& out) {
  local_checks(rs.virtual_services, memo, next, out);
  local_checks(rs.destination_rules, memo, next, out);
  local_checks(rs.service_entries, memo, next, out);
  local_checks(rs.gateways, memo, next, out);
  local_checks(rs.sidecars, memo, next, out);
  local_checks(rs.envoy_filters, memo, next, out);
  local_checks(rs.authorization_policies, memo, next, out);
  local_checks(rs.rate_limit_policies, memo, next, out);
  local_checks(rs.services, memo, next, out);
}

}  // namespace

size_t ValidationMemo::IdHash::operator()(const IdKey& k) const {
  static_assert(sizeof(size_t) == 8, "the memo counts ids by 64-bit hash");
  std::hash<std::string_view> h;
  size_t seed = h(k.kind);
  for (std::string_view part : {k.ns, k.name}) seed ^= h(part) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
  return seed;
}

void validate_resources(const ResourceSet& rs, std::vector<Diagnostic>& out) {
  ValidationMemo next;
  all_local_checks(rs, nullptr, next, out);
}

void validate_references(const MeshSnapshot& snap, std::vector<Diagnostic>& out) {
  check_references(snap.resources, snap.domain, SnapshotTargets(snap), out);
}

std::vector<Diagnostic> check_service_alone(const MeshSnapshot&, const K8sResource<k8s::Service>& r) {
  return check_alone(r);
}

void validate_snapshot(const MeshSnapshot& snap, std::vector<Diagnostic>& out, ValidationMemo* memo) {
  const ResourceSet& rs = snap.resources;
  std::unordered_map<uint64_t, uint32_t> ids = check_duplicates(rs, out);

  // References are checked again every time: what they point at may have
  // changed under them. They are warnings.
  validate_references(snap, out);
  ValidationMemo next;
  std::vector<Diagnostic>& local = next.local_diagnostics;
  all_local_checks(rs, memo, next, local);
  out.insert(out.end(), local.begin(), local.end());
  if (memo) {
    next.ids = std::move(ids);
    *memo = std::move(next);
  }
}

}  // namespace sluice::config
