// MeshSnapshot: the whole validated configuration, immutable once built and
// shared by every reader through std::shared_ptr<const MeshSnapshot>.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "diagnostic.h"
#include "resource_set.h"
#include "route_table.h"
#include "sharded_map.h"
#include "traffic_policy.h"

namespace sluice::config {

// Istio's protocol selection for a service port.
enum class Protocol { kHttp, kHttp2, kGrpc, kTcp, kTls, kHttps, kUdp, kUnknown };
std::string_view protocol_name(Protocol p);
bool is_http(Protocol p);
// Ports that VirtualService tls routes apply to: TLS and HTTPS.
inline bool is_tls(Protocol p) { return p == Protocol::kTls || p == Protocol::kHttps; }

struct Endpoint {
  uint32_t ip = 0;  // host order
  uint16_t port = 0;  // the resolved target port
  // The labels of the endpoint's pod, shared with the pod's resource (at
  // 100k pods a copy per endpoint costs tens of MB); null when unknown.
  std::shared_ptr<const Labels> labels;
  std::string pod;  // namespace/name when known
  uint32_t weight = 1;
  std::string node_name;  // EndpointSlice nodeName or Pod spec.nodeName; "" if unknown
  uint32_t host_ip = 0;   // the pod's status.hostIP (host order), 0 if unknown

  const Labels& label_map() const {
    static const Labels kNone;
    return labels ? *labels : kNone;
  }
  // Labels compare by content: equal endpoints from two builds are equal.
  bool operator==(const Endpoint& o) const {
    return ip == o.ip && port == o.port && pod == o.pod && weight == o.weight && node_name == o.node_name &&
           host_ip == o.host_ip && (labels == o.labels || label_map() == o.label_map());
  }
};

struct ServicePort {
  std::string name;
  uint16_t port = 0;
  uint8_t l4_proto = 6;  // IPPROTO_TCP / IPPROTO_UDP
  Protocol protocol = Protocol::kTcp;
  std::vector<Endpoint> endpoints;
  ResolvedPolicy policy;  // the DestinationRule's policy for this port
  // The node daemon takes this TCP port's connections (the kernel sends them
  // to it while it is up): an HTTP port, or one that a mesh VirtualService's
  // `tcp`/`tls` routes take, for its L4 proxy.
  bool via_daemon = false;
};

struct Subset {
  std::string name;
  std::map<std::string, std::string> labels;
  const istio::networking::TrafficPolicy* policy = nullptr;  // points into resources
};

struct Service {
  std::string fqdn;  // reviews.default.svc.cluster.local, or a ServiceEntry host
  std::string name;
  std::string ns;
  uint32_t vip = 0;  // 0: headless or no address
  bool from_service_entry = false;
  // A ServiceEntry with resolution DNS: what its host resolves to. Clients
  // connect to these addresses as to a VIP, so they are its VIPs for the
  // ports the daemon takes (docs/egress.md, "DNS ServiceEntries").
  std::vector<uint32_t> dns_addresses;
  std::vector<ServicePort> ports;
  std::vector<Subset> subsets;
  const istio::networking::TrafficPolicy* policy = nullptr;  // DestinationRule top level
  // North-south addresses (host order): status.loadBalancer.ingress[].ip of a
  // type LoadBalancer service, then spec.externalIPs.
  std::vector<uint32_t> external_ips;
  // spec.loadBalancerSourceRanges as (network, prefix length); empty: any.
  std::vector<std::pair<uint32_t, uint8_t>> source_ranges;
  bool external_traffic_local = false;  // spec.externalTrafficPolicy: Local
  // Annotation sluice.io/socket-redirect: "off" opts the service's local
  // connections out of the sockhash fast path (docs/sockmap.md).
  bool socket_redirect = true;
};

// The annotation that opts a Service out of socket redirection.
inline constexpr const char* kSocketRedirectAnnotation = "sluice.io/socket-redirect";

// Services point into `resources`, so a snapshot is never copied.
struct MeshSnapshot {
  MeshSnapshot() = default;
  MeshSnapshot(const MeshSnapshot&) = delete;
  MeshSnapshot& operator=(const MeshSnapshot&) = delete;

  uint64_t version = 0;
  std::string domain = "cluster.local";
  ResourceSet resources;
  // By FQDN. Shards and services are shared with later snapshots.
  // Built with a BuildMemo, a service whose inputs did not change is the
  // same object in both snapshots (the datapath's L4 view relies on it to
  // stay incremental: l4_view.h).
  ShardedMap<std::string, std::shared_ptr<const Service>> services;
  // VirtualService routes by host: those bound to sidecars/mesh traffic (no
  // `gateways`, or "mesh" among them), and those bound to each Gateway
  // ("namespace/name").
  RouteTable mesh_routes;
  std::map<std::string, RouteTable> gateway_routes;
  std::vector<Diagnostic> warnings;
  // The errors of the resources that were rejected (admission.h): they are
  // absent from this snapshot, or in force in their last good version.
  std::vector<Diagnostic> rejections;

  const Service* find_service(const std::string& fqdn) const;
  // The Secret namespace/name (Gateway credentials), or null.
  const k8s::Secret* find_secret(const std::string& ns, const std::string& name) const;
};

using SnapshotPtr = std::shared_ptr<const MeshSnapshot>;

// The FQDN of a Kubernetes Service: name.namespace.svc.<domain>.
std::string kubernetes_fqdn(const Meta& svc, const std::string& domain);

// The FQDN Istio gives a host written in namespace ns: a name without dots
// ("reviews") becomes "reviews.<ns>.svc.cluster.local"; anything with a dot,
// "*" and IP addresses are kept as written (Istio's ResolveShortnameToFQDN).
std::string resolve_host(const std::string& host, const std::string& ns,
                         const std::string& domain = "cluster.local");

// A Gateway named in a VirtualService, as "namespace/name" (Istio's
// resolveGatewayName): "gw" and "./gw" are in the VirtualService's
// namespace, "gw.ns.svc.cluster.local" is "ns/gw"; "mesh" stays "mesh".
std::string resolve_gateway_name(const std::string& gateway, const std::string& vs_namespace);

}  // namespace sluice::config
