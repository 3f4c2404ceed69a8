#include "authz_scope.h"

namespace sluice::config {
namespace {

using Policy = istio::security::AuthorizationPolicy;

bool has_targets(const Policy& p) { return p.has_target_ref() || p.target_refs_size() > 0; }

bool targets_service(const Policy& p, std::string_view policy_ns, const Workload& w) {
  auto hit = [&](const istio::security::PolicyTargetReference& t) {
    const std::string_view ns = t.has_namespace_() ? std::string_view(t.namespace_()) : policy_ns;
    return t.kind() == "Service" && ns == w.service_ns && t.name() == w.service;
  };
  if (p.has_target_ref() && hit(p.target_ref())) return true;
  for (const auto& t : p.target_refs()) {
    if (hit(t)) return true;
  }
  return false;
}

}  // namespace

bool authz_enforced(const Policy& p) {
  if (p.action() == Policy::CUSTOM) return false;
  if (!has_targets(p)) return true;
  if (p.has_target_ref() && p.target_ref().kind() == "Service") return true;
  for (const auto& t : p.target_refs()) {
    if (t.kind() == "Service") return true;
  }
  return false;
}

bool authz_applies(const IstioResource<Policy>& r, const Workload& w, std::string_view root_namespace) {
  const Policy& p = r.spec;
  if (has_targets(p)) return targets_service(p, r.meta.ns, w);
  if (r.meta.ns != root_namespace && r.meta.ns != w.ns) return false;
  if (!p.has_selector()) return true;
  static const Labels kNone;
  const Labels& labels = w.labels ? *w.labels : kNone;
  for (const auto& [k, v] : p.selector().match_labels()) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace sluice::config
