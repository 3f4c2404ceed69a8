#include "egress_control.h"

#include <spdlog/spdlog.h>

#include "ip_text.h"

namespace sluice::daemon {

Result<std::unique_ptr<EgressControl>> EgressControl::start(const DaemonOptions& o, uint32_t node_ip,
                                                            MapHandle<sl_egress_key, uint32_t> map) {
  std::vector<config::Ipv4Range> always;
  std::vector<std::string> cidrs = o.cluster_cidrs;
  if (!o.pod_cidr.empty()) cidrs.push_back(o.pod_cidr);
  for (const std::string& text : cidrs) {
    config::Ipv4Range r;
    if (!parse_ipv4_cidr(text, r.net, r.prefix_len)) {
      return make_error(-EINVAL, "--cluster-cidr/--pod-cidr " + text + ": expected an IPv4 CIDR such as 10.244.0.0/16");
    }
    always.push_back(r);
  }
  if (node_ip) always.push_back({node_ip, 32});
  return std::unique_ptr<EgressControl>(new EgressControl(std::move(always), !o.cluster_cidrs.empty(), std::move(map)));
}

void EgressControl::follow(const config::MeshSnapshot& snap) {
  const config::EgressPolicy policy = config::egress_policy_of(snap.resources);
  if (Status s = table_.sync(egress_entries(policy, always_)); !s) {
    // What could not be written stays as it was; the next snapshot retries.
    spdlog::warn("egress table: {}", s.error().to_string());
  }
  if (!synced_once_ || policy.registry_only != registry_only_) {
    if (policy.registry_only) {
      spdlog::info("egress: REGISTRY_ONLY (Sidecar {}): TCP connects to no service reach only {} known range(s)",
                   policy.set_by, table_.entries().size() - 1);
      if (!cluster_given_) {
        spdlog::warn("egress: REGISTRY_ONLY without --cluster-cidr: pods reach other pods only through Services");
      }
    } else {
      spdlog::info("egress: ALLOW_ANY{}", policy.set_by.empty() ? " (no Sidecar in the root namespace sets a mode)"
                                                              : " (Sidecar " + policy.set_by + ")");
    }
  }
  registry_only_ = policy.registry_only;
  synced_once_ = true;
}

}  // namespace sluice::daemon
