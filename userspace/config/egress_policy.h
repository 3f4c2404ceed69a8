// Where pods may connect outside the registry (Istio's
// outboundTrafficPolicy): the mode from the Sidecar of the root namespace
// that has no workloadSelector (the mesh-wide default), and the ranges the
// ServiceEntries register. The kernel enforces it at connect()
// (datapath/egress_table.h), node-wide: it cannot tell one pod's Sidecar
// from another's, so namespace Sidecars' modes are not enforced.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "authz_scope.h"
#include "resource_set.h"

namespace sluice::config {

struct Ipv4Range {
  uint32_t net = 0;  // host order, host bits clear
  uint8_t prefix_len = 32;
  auto operator<=>(const Ipv4Range&) const = default;
};

struct EgressPolicy {
  bool registry_only = false;
  std::string set_by;  // "namespace/name" of the Sidecar that chose the mode; empty: the default (ALLOW_ANY)
  // ServiceEntry addresses (VIPs or CIDRs) and STATIC endpoint addresses,
  // sorted and unique.
  std::vector<Ipv4Range> registered;
  // Names whose addresses are registered too, once resolved: the hosts of
  // ServiceEntries with resolution DNS or DNS_ROUND_ROBIN (wildcards left
  // out), or their endpoints' addresses that are names.
  std::set<std::string> dns_hosts;
  // Names to keep resolved whatever the mode, for the proxy: the hosts and
  // named endpoints of DNS ServiceEntries with an HTTP port. The hosts'
  // addresses become the entry's VIPs, the endpoints' its upstreams.
  std::set<std::string> proxied_hosts;
};

EgressPolicy egress_policy_of(const ResourceSet& resources, std::string_view root_namespace = kRootNamespace);

}  // namespace sluice::config
