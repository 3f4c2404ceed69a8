// Egress control on this node: follows each snapshot's egress policy
// (config/egress_policy.h) into the kernel's table (datapath/egress_table.h),
// with the ranges that are always allowed (--cluster-cidr, --pod-cidr, the
// node's address) and the addresses of the DNS ServiceEntries' hosts
// (policy/dns_resolver.h, asked from tick()), and says in the log when the
// mode changes.
#pragma once

#include <memory>
#include <vector>

#include "daemon_options.h"
#include "dns_resolver.h"
#include "egress_table.h"
#include "mesh_snapshot.h"

namespace sluice::daemon {

class EgressControl {
 public:
  // Fails on a --cluster-cidr or --pod-cidr that is not an IPv4 CIDR.
  static Result<std::unique_ptr<EgressControl>> start(const DaemonOptions& o, uint32_t node_ip,
                                                      MapHandle<sl_egress_key, uint32_t> map);

  void follow(const config::MeshSnapshot& snap);
  // From the main loop: DNS answers that arrived, and questions now due.
  // True when some name's addresses changed: the config is then built
  // again with resolved() (DNS ServiceEntries' VIPs and endpoints).
  bool tick(policy::DnsResolver::Clock::time_point now);
  // Every name's addresses as last answered (names without any left out).
  std::shared_ptr<const config::ResolvedHosts> resolved() const;

  bool registry_only() const { return registry_only_; }
  size_t ranges() const { return table_.entries().size(); }

 private:
  EgressControl(std::vector<config::Ipv4Range> always, bool cluster_given, MapHandle<sl_egress_key, uint32_t> map,
                std::unique_ptr<policy::DnsResolver> dns)
      : always_(std::move(always)), cluster_given_(cluster_given), table_(std::move(map)), dns_(std::move(dns)) {}
  void sync();

  std::vector<config::Ipv4Range> always_;
  bool cluster_given_;
  EgressTable table_;
  std::unique_ptr<policy::DnsResolver> dns_;
  config::EgressPolicy policy_;
  bool registry_only_ = false;
  bool synced_once_ = false;
};

}  // namespace sluice::daemon
