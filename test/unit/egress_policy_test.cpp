// Egress control's config side: which Sidecar sets the node's mode, the
// ranges ServiceEntries register, and the kernel table they make.
#include "egress_policy.h"

#include <gtest/gtest.h>

#include "egress_table.h"
#include "resource_loader.h"

namespace sluice::config {
namespace {

ResourceSet load(const std::string& yaml) {
  LoadResult loaded;
  load_yaml_text(yaml, "test.yaml", loaded);
  return std::move(loaded.resources);
}

constexpr const char* kEntries = R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: default}
spec:
  hosts: [api.example.test]
  addresses: [10.111.5.0/24, "2001:db8::/64"]
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: STATIC
  endpoints: [{address: 10.111.7.7}, {address: 10.111.5.9}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: dns, namespace: default}
spec:
  hosts: [www.example.test]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
)";

TEST(EgressPolicy, AllowAnyUnlessTheRootNamespaceSaysOtherwise) {
  EXPECT_FALSE(egress_policy_of(load(kEntries)).registry_only);
  // A namespace's Sidecar, or one with a selector, does not set the node's mode.
  const auto others = egress_policy_of(load(std::string(kEntries) + R"(apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: foo}
spec: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: some, namespace: istio-system}
spec:
  workloadSelector: {labels: {app: a}}
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
)"));
  EXPECT_FALSE(others.registry_only);
  EXPECT_EQ(others.set_by, "");

  const auto mesh = egress_policy_of(load(std::string(kEntries) + R"(apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: istio-system}
spec: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}
)"));
  EXPECT_TRUE(mesh.registry_only);
  EXPECT_EQ(mesh.set_by, "istio-system/default");
  // Addresses and STATIC endpoints, IPv4 only, sorted and unique; the DNS
  // entry has no address to list.
  const std::vector<Ipv4Range> want = {{0x0a6f0500, 24}, {0x0a6f0509, 32}, {0x0a6f0707, 32}};
  EXPECT_EQ(mesh.registered, want);
}

TEST(EgressPolicy, TheKernelTableDeniesByDefaultOnlyUnderRegistryOnly) {
  EgressPolicy p{.registered = {{0x0a6f0500, 24}}};
  const std::vector<Ipv4Range> cluster = {{0x0ac80000, 16}, {0x0ac80001, 32}};
  EXPECT_TRUE(egress_entries(p, cluster).empty());
  p.registry_only = true;
  const EgressEntries want = {{{0, 0}, SL_EGRESS_DENY},
                              {{8, 0x7f000000}, SL_EGRESS_ALLOW},
                              {{16, 0x0ac80000}, SL_EGRESS_ALLOW},
                              {{32, 0x0ac80001}, SL_EGRESS_ALLOW},
                              {{24, 0x0a6f0500}, SL_EGRESS_ALLOW}};
  EXPECT_EQ(egress_entries(p, cluster), want);
}

TEST(EgressPolicy, DnsEntriesNameTheHostsToResolve) {
  const auto p = egress_policy_of(load(std::string(kEntries) + R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: named-endpoints, namespace: default}
spec:
  hosts: [pay.example.test, "*.wild.example.test"]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS_ROUND_ROBIN
  endpoints: [{address: eu.pay.example.test}, {address: 10.111.8.8}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: wildcard, namespace: default}
spec:
  hosts: ["*.cdn.example.test", static.example.test]
  ports: [{number: 80, name: http}]
  resolution: DNS
)"));
  // Named endpoints replace the hosts; an IP endpoint is a range already;
  // wildcards cannot be asked for; STATIC entries are not resolved.
  EXPECT_EQ(p.dns_hosts, (std::set<std::string>{"eu.pay.example.test", "static.example.test", "www.example.test"}));
}

}  // namespace
}  // namespace sluice::config
