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
  auto dns = policy::DnsResolver::start(o.dns_server);
  if (!dns) return dns.error();
  return std::unique_ptr<EgressControl>(
      new EgressControl(std::move(always), !o.cluster_cidrs.empty(), std::move(map), std::move(*dns)));
}

void EgressControl::sync() {
  // The DNS ServiceEntries' addresses count as registered while known.
  config::EgressPolicy with_dns = policy_;
  for (const auto& [host, answer] : dns_->answers()) {
    for (uint32_t ip : answer.addresses) with_dns.registered.push_back({ip, 32});
  }
  if (Status s = table_.sync(egress_entries(with_dns, always_)); !s) {
    // What could not be written stays as it was; the next snapshot retries.
    spdlog::warn("egress table: {}", s.error().to_string());
  }
}

void EgressControl::tick(policy::DnsResolver::Clock::time_point now) {
  if (!dns_->poll(now)) return;
  for (const auto& [host, answer] : dns_->answers()) {
    std::string text;
    for (uint32_t ip : answer.addresses) text += (text.empty() ? "" : " ") + format_ip(ip);
    spdlog::info("egress: {} resolves to {}", host, text.empty() ? "nothing" : text);
  }
  sync();
}

void EgressControl::follow(const config::MeshSnapshot& snap) {
  policy_ = config::egress_policy_of(snap.resources);
  const config::EgressPolicy& policy = policy_;
  // Names are asked only while their addresses matter: under ALLOW_ANY
  // the table is empty anyway.
  dns_->want(policy.registry_only ? policy.dns_hosts : std::set<std::string>{});
  sync();
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
