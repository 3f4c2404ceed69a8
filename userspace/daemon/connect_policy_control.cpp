#include "connect_policy_control.h"

#include <spdlog/spdlog.h>

#include "connect_policy.h"
#include "ip_text.h"

namespace sluice::daemon {

namespace {

constexpr std::chrono::seconds kRescan{1};

bool same_pods(const std::vector<PodNetns>& a, const std::vector<PodNetns>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const PodNetns& x, const PodNetns& y) {
    return x.cookie == y.cookie && x.addresses == y.addresses;
  });
}

}  // namespace

void ConnectPolicyControl::follow(const config::SnapshotPtr& snap) {
  snap_ = snap;
  policies_ = policy::AuthzPolicies::compile(snap->resources.authorization_policies);
  limits_connections_ = policy::limits_connections(snap->resources);
  if (needs_pods() && netns_.empty()) rescan();
  apply();
}

void ConnectPolicyControl::tick(std::chrono::steady_clock::time_point now) {
  if (!snap_ || !needs_pods() || now - last_scan_ < kRescan) return;
  const std::vector<PodNetns> before = netns_;
  const bool failed_before = scan_failed_;
  rescan();
  if (scan_failed_ != failed_before || !same_pods(before, netns_)) apply();
}

void ConnectPolicyControl::rescan() {
  last_scan_ = std::chrono::steady_clock::now();
  auto found = scan_pod_netns(dir_, prefix_);
  if (!found) {
    if (!scan_failed_) {
      spdlog::error("L4 authorization: cannot read the pods' network namespaces under {} ({}); the kernel checks no "
                    "policy at connect (the proxy still does, on HTTP ports). docs/security.md says what it needs.",
                    dir_, found.error().to_string());
    }
    scan_failed_ = true;
    netns_.clear();
    return;
  }
  scan_failed_ = false;
  netns_ = std::move(*found);
}

void ConnectPolicyControl::apply() {
  if (!snap_) return;
  const auto pods = policy::pods_by_address(snap_->resources);
  std::vector<policy::ConnectSource> sources;
  for (const PodNetns& ns : netns_) {
    policy::ConnectSource s;
    s.netns_cookie = ns.cookie;
    for (uint32_t ip : ns.addresses) {
      auto pod = pods.find(ip);
      if (pod == pods.end()) continue;
      s.ip = ip;
      s.known = true;
      s.ns = pod->second->meta.ns;
      s.service_account = pod->second->object.spec().service_account_name();
      s.labels = &pod->second->meta.labels;
      break;
    }
    if (!s.known && !ns.addresses.empty()) s.ip = ns.addresses.front();
    sources.push_back(std::move(s));
  }
  // Without the pods' identities the kernel could only judge every caller as
  // unknown, which would refuse every connect an identity ALLOW list guards:
  // it then checks nothing, rather than break the node's traffic.
  // The destination side checks this node's pods; the nodes' addresses
  // (where their sluice proxies dial from) are trusted.
  std::set<uint32_t> local, nodes;
  for (const PodNetns& ns : netns_) local.insert(ns.addresses.begin(), ns.addresses.end());
  if (node_ip_) nodes.insert(node_ip_);
  for (const auto& pod : snap_->resources.pods) {
    if (uint32_t ip = 0; parse_ipv4(pod->object.status().host_ip(), ip)) nodes.insert(ip);
  }
  const policy::ConnectPolicy compiled =
      scan_failed_ ? policy::ConnectPolicy{}
                   : policy::compile_connect_policy(policies_, snap_->resources, sources, local, nodes);
  ConnectionBuckets buckets;
  if (!scan_failed_) {
    for (const auto& [cookie, rate] : policy::connection_rates(snap_->resources, sources)) {
      buckets[cookie] = {rate.max_tokens, rate.tokens_per_fill, rate.fill_interval_ns};
    }
  }
  PeerSources peers;
  for (const auto& [ip, key] : compiled.peers) peers[ip] = key == policy::kTrustedPeer ? kTrustedPeerKey : key;
  if (Status s = table_.sync(compiled.guarded, compiled.verdicts, buckets, peers); !s) {
    // What could not be written stays as it was; the next change retries.
    spdlog::warn("L4 authorization table: {}", s.error().to_string());
  }
  if (table_.rules() != logged_rules_ || table_.buckets() != logged_buckets_) {
    spdlog::info("L4 authorization: {} guarded pod(s), {} local source(s), {} peer address(es), {} verdict(s), {} "
                 "connection bucket(s) in the kernel",
                 table_.guarded(), table_.sources(), table_.peers(), table_.rules(), table_.buckets());
    logged_rules_ = table_.rules();
    logged_buckets_ = table_.buckets();
  }
}

}  // namespace sluice::daemon
