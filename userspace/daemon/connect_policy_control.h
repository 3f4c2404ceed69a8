// L4 authorization and connection-rate limits on this node: compiles each
// snapshot's AuthorizationPolicies and RateLimitPolicy connectionBuckets for
// connect4 (policy/connect_policy.h) against the pods found on the node
// (pod_netns_scan.h), and keeps the kernel's tables equal to the result
// (datapath/connect_policy_table.h). Pods come and go without a config
// change, so it looks for them again every second while any policy guards a
// connect.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "authz_policy.h"
#include "connect_policy_table.h"
#include "daemon_options.h"
#include "mesh_snapshot.h"
#include "pod_netns_scan.h"

namespace sluice::daemon {

class ConnectPolicyControl {
 public:
  ConnectPolicyControl(const DaemonOptions& o, MapHandle<uint64_t, uint32_t> sources,
                       MapHandle<uint32_t, uint32_t> dests, MapHandle<sl_pol_rule_key, uint32_t> rules,
                       MapHandle<uint32_t, sl_conn_bucket> buckets, MapHandle<uint32_t, uint32_t> peers,
                       uint32_t node_ip)
      : dir_(o.pod_netns_dir),
        prefix_(o.pod_netns_prefix),
        node_ip_(node_ip),
        table_(std::move(sources), std::move(dests), std::move(rules), std::move(buckets), std::move(peers)) {}

  void follow(const config::SnapshotPtr& snap);
  // From the main loop: looks for new and gone pods once a second.
  void tick(std::chrono::steady_clock::time_point now);

 private:
  void rescan();
  void apply();
  // Whether anything needs the node's pods: a policy or a connection limit.
  bool needs_pods() const { return !policies_.empty() || limits_connections_; }

  std::string dir_, prefix_;
  uint32_t node_ip_;  // host order; 0: unknown
  ConnectPolicyTable table_;
  config::SnapshotPtr snap_;
  policy::AuthzPolicies policies_;
  bool limits_connections_ = false;
  std::vector<PodNetns> netns_;
  std::chrono::steady_clock::time_point last_scan_{};
  bool scan_failed_ = false;
  size_t logged_rules_ = 0;
  size_t logged_buckets_ = 0;
};

}  // namespace sluice::daemon
