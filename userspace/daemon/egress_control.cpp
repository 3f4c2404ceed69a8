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
    if (!policy_.dns_hosts.count(host)) continue;  // asked for the proxy only
    for (uint32_t ip : answer.addresses) with_dns.registered.push_back({ip, 32});
  }
  if (Status s = table_.sync(egress_entries(with_dns, always_)); !s) {
    // What could not be written stays as it was; the next snapshot retries.
    spdlog::warn("egress table: {}", s.error().to_string());
  }
}

std::shared_ptr<const config::ResolvedHosts> EgressControl::resolved() const {
  auto out = std::make_shared<config::ResolvedHosts>();
  for (const auto& [host, answer] : dns_->answers()) {
    if (!answer.addresses.empty()) out->emplace(host, answer.addresses);
  }
  return out;
}

bool EgressControl::tick(policy::DnsResolver::Clock::time_point now) {
  if (!dns_->poll(now)) return false;
  for (const auto& [host, answer] : dns_->answers()) {
    std::string text;
    for (uint32_t ip : answer.addresses) text += (text.empty() ? "" : " ") + format_ip(ip);
    spdlog::info("egress: {} resolves to {}", host, text.empty() ? "nothing" : text);
  }
  sync();
  return true;
}

void EgressControl::follow(const config::MeshSnapshot& snap) {
  policy_ = config::egress_policy_of(snap.resources);
  const config::EgressPolicy& policy = policy_;
  // Names are asked only while their addresses matter: under ALLOW_ANY
  // the table is empty anyway.
  // The proxy needs the names of its DNS ServiceEntries in either mode.
  std::set<std::string> wanted = policy.proxied_hosts;
  if (policy.registry_only) wanted.insert(policy.dns_hosts.begin(), policy.dns_hosts.end());
  dns_->want(wanted);
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
