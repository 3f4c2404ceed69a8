// A Kubernetes Service on its own: what sluice needs of it (the API server
// validates the rest where there is one).
#include <algorithm>
#include <set>

#include "mesh_snapshot.h"
#include "resource_checks.h"

namespace sluice::config {

void check_kubernetes_service(ResourceChecker& c, const k8s::Service& svc) {
  if (auto a = svc.metadata().annotations().find(kSocketRedirectAnnotation); a != svc.metadata().annotations().end()) {
    static const std::set<std::string> kValues = {"on", "off", "true", "false"};
    if (!kValues.count(a->second)) {
      c.warning(std::string("metadata.annotations.") + kSocketRedirectAnnotation,
                "expected \"off\" (or on/true/false), got \"" + a->second + "\": socket redirection stays on");
    }
  }
  const std::string& cip = svc.spec().cluster_ip();
  if (cip.empty() && svc.spec().type() != "ExternalName") {
    // A config directory has no API server to allocate one.
    c.warning("spec.clusterIP", "no clusterIP: the service gets no VIP here (in a cluster, the API server assigns one)");
  } else if (!cip.empty() && cip != "None" && !is_ip_address(cip)) {
    c.error("spec.clusterIP", "invalid IP '" + cip + "'");
  }
  std::set<std::string> names;
  for (int i = 0; i < svc.spec().ports_size(); ++i) {
    const auto& p = svc.spec().ports(i);
    const std::string pp = idx("spec.ports", i);
    c.port(pp + ".port", static_cast<uint64_t>(std::max(0, p.port())));
    if (p.target_port().has_number_value()) {
      c.port(pp + ".targetPort", static_cast<uint64_t>(std::max(0.0, p.target_port().number_value())));
    }
    if (svc.spec().ports_size() > 1 && p.name().empty()) c.error(pp + ".name", "ports of a multi-port Service need names");
    if (!p.name().empty() && !names.insert(p.name()).second) c.error(pp + ".name", "duplicate port name '" + p.name() + "'");
  }
}

}  // namespace sluice::config
