// EnvoyFilter on its own: sluice translates Envoy's local rate limit
// (envoy_local_rate_limit.h) and applies no other patch. An invalid bucket in
// that pattern rejects the resource; any other patch is a warning, so an
// Istio cluster's EnvoyFilters never block the rest of its config.
#include "envoy_local_rate_limit.h"
#include "resource_checks.h"

namespace sluice::config {

void check_envoy_filter(ResourceChecker& c, const istio::networking::EnvoyFilter& f) {
  if (f.has_workload_selector()) c.selector_labels("spec.workloadSelector.labels", f.workload_selector().labels());
  if (f.config_patches().empty()) c.error("spec.configPatches", "configPatches is required");
  const EnvoyFilterReading r = read_envoy_filter(f);
  for (const auto& [path, message] : r.errors) c.error(path, message);
  for (const auto& [path, message] : r.unsupported) c.warning(path, message);
}

}  // namespace sluice::config
