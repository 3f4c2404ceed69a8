// The kernel's share of AuthorizationPolicy (docs/security.md, "Enforcement
// points"): for every pod that policies guard, and every pod of this node
// that may connect to it, whether connect4 lets the connection start. Pure:
// the daemon gives the pods it found on the node and writes the result to
// the kernel's tables (datapath/connect_policy_table.h).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "authz_policy.h"
#include "mesh_snapshot.h"

namespace sluice::policy {

// A pod of this node that opens connections, found by its network namespace.
struct ConnectSource {
  uint64_t netns_cookie = 0;
  uint32_t ip = 0;  // host order; what the namespace's interfaces carry
  // From the snapshot's Pod with that address; known false: none has it.
  bool known = false;
  std::string ns;
  std::string service_account;
  const config::Labels* labels = nullptr;  // the Pod's, while the snapshot lives
};

// A RateLimitPolicy connectionBucket, as one source's kernel bucket.
struct ConnectionRate {
  uint32_t max_tokens = 0;
  uint32_t tokens_per_fill = 1;
  uint64_t fill_interval_ns = 0;
  std::string policy;  // namespace/name
  bool operator==(const ConnectionRate& o) const {
    return max_tokens == o.max_tokens && tokens_per_fill == o.tokens_per_fill && fill_interval_ns == o.fill_interval_ns;
  }
};

// What connect4 decides, keyed the way its tables are (maps/sock_lb_types.h)
// but by meaning, not by id: a policy set by its signature (the policies
// that make it up), a source by its namespace cookie (0: a source with no
// identity), a port by number (0: any port the set's policies do not name).
struct ConnectPolicy {
  std::map<uint32_t, std::string> guarded;  // pod address (host order) -> set signature
  // set signature -> source cookie -> port -> allowed. Every source has port
  // 0; a named port only where its verdict differs from port 0's.
  std::map<std::string, std::map<uint64_t, std::map<uint16_t, bool>>> verdicts;
  // Source cookie -> its connection bucket (RateLimitPolicy connectionBucket).
  std::map<uint64_t, ConnectionRate> rates;
  // On the destination's side, for the guarded pods of this node: each
  // address of the cluster a connection may come from -> its source key in
  // `verdicts` (kPeerKey: a pod's identity class), or kTrustedPeer (a node's
  // address: that node's sluice checked it).
  std::map<uint32_t, uint64_t> peers;

  size_t rule_count() const;
};

// Source keys of peers: a namespace cookie never has the top bit set.
inline constexpr uint64_t kPeerKey = 1ULL << 63;
inline constexpr uint64_t kTrustedPeer = ~0ULL;

// local: the addresses of this node's pods (the scan's), whose policies the
// destination side checks; nodes: the nodes' addresses, trusted.
ConnectPolicy compile_connect_policy(const AuthzPolicies& policies, const config::ResourceSet& resources,
                                     const std::vector<ConnectSource>& sources,
                                     const std::set<uint32_t>& local = {}, const std::set<uint32_t>& nodes = {});

// Each known source's connection bucket: the RateLimitPolicies of its
// namespace with a connectionBucket whose sourceSelector it matches; of
// several, the one with the fewest tokens.
std::map<uint64_t, ConnectionRate> connection_rates(const config::ResourceSet& resources,
                                                    const std::vector<ConnectSource>& sources);
// Whether any RateLimitPolicy limits connections.
bool limits_connections(const config::ResourceSet& resources);

// The pods of `resources` by address (host order). hostNetwork pods are
// left out: their address is the node's.
std::unordered_map<uint32_t, const config::K8sResource<k8s::Pod>*> pods_by_address(
    const config::ResourceSet& resources);

}  // namespace sluice::policy
