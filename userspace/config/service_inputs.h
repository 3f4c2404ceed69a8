// What a Kubernetes Service is built from, indexed: its EndpointSlices (by
// the kubernetes.io/service-name label), the Pods its selector picks, and
// the DestinationRule of its host. The index is kept between builds and
// updated resource by resource, so a reload that changes a few Kubernetes
// objects rebuilds only the services they touch (snapshot_patch.h).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "mesh_snapshot.h"

namespace sluice::config {

class ServiceInputs {
 public:
  using ServiceRef = std::shared_ptr<const K8sResource<k8s::Service>>;
  using PodRef = std::shared_ptr<const K8sResource<k8s::Pod>>;
  using SliceRef = std::shared_ptr<const K8sResource<k8s::EndpointSlice>>;
  using RuleRef = std::shared_ptr<const IstioResource<istio::networking::DestinationRule>>;
  using VirtualServiceRef = std::shared_ptr<const IstioResource<istio::networking::VirtualService>>;

  // "namespace/name": how Services, and the slices that name them, are keyed.
  static std::string key(const std::string& ns, const std::string& name) { return ns + "/" + name; }
  // The Service a slice belongs to, by key; empty without the label.
  static std::string slice_owner(const Meta& slice);

  void add(const ServiceRef& r);
  void remove(const ServiceRef& r);
  ServiceRef service(const std::string& key) const;  // null if there is none

  void add(const SliceRef& r);
  void remove(const SliceRef& r);
  void add(const PodRef& r);
  void remove(const PodRef& r);
  // The DestinationRule of a host; false if another one has it already
  // (the first one wins, as in Istio).
  bool add_rule(const std::string& host, const RuleRef& r);
  RuleRef rule_for(const std::string& fqdn) const;
  // The mesh VirtualService with `tcp` or `tls` routes for a host (the first
  // one, as in the route table): the TCP ports they take go through the
  // daemon's L4 proxy.
  void add_l4_routes(const std::string& host, const VirtualServiceRef& r) { l4_routes_.emplace(host, r); }
  VirtualServiceRef l4_routes_for(const std::string& fqdn) const;

  // A service's inputs, in a fixed order whatever the order of the files:
  // slices and pods sorted by name.
  std::vector<SliceRef> slices_of(const Meta& svc) const;
  std::vector<PodRef> pods_for(const std::string& ns,
                               const google::protobuf::Map<std::string, std::string>& selector) const;

  // What one Service is built from: its DestinationRule, and its
  // EndpointSlices when it has any, else the Pods its selector picks.
  struct Sources {
    RuleRef rule;
    VirtualServiceRef l4_routes;
    std::vector<SliceRef> slices;
    std::vector<PodRef> pods;
    // The Service and every source, which the build memo compares by identity.
    std::vector<std::shared_ptr<const void>> identity(const ServiceRef& r) const;
  };
  Sources sources_of(const K8sResource<k8s::Service>& r, const std::string& fqdn) const;

  // Builds the registry entry of a Kubernetes Service from its sources.
  static std::shared_ptr<const Service> build(const K8sResource<k8s::Service>& r, const std::string& fqdn,
                                              const Sources& from);

 private:
  static std::string label_key(const std::string& ns, const std::string& k, const std::string& v) {
    return ns + '\0' + k + '\0' + v;
  }
  std::unordered_map<std::string, ServiceRef> services_;  // by key; the first of duplicates
  std::unordered_map<std::string, std::vector<SliceRef>> slices_;  // by owner key
  std::unordered_map<std::string, std::vector<PodRef>> pods_by_label_;
  std::unordered_map<std::string, RuleRef> rules_;  // by host
  std::unordered_map<std::string, VirtualServiceRef> l4_routes_;  // by host
};

// An IPv4 address (a CIDR's address part) in host order; 0 if not IPv4.
uint32_t ipv4_of(const std::string& text);
// IPPROTO_UDP for "UDP", else IPPROTO_TCP.
uint8_t l4_proto_of(const std::string& protocol);

// Whether a VirtualService's `tcp` or `tls` routes take the TCP port `port`
// (a tcp route without matches, or a tcp match on no port or on this one;
// a tls match likewise, but only on a TLS or HTTPS port, as in Istio).
bool l4_routes_take_port(const istio::networking::VirtualService& vs, uint32_t port, Protocol protocol);

// Marks the ports the node daemon takes (ServicePort::via_daemon): TCP ports
// that are HTTP, or that `l4_routes` take, for the daemon's L4 proxy.
void mark_daemon_ports(Service& s, const istio::networking::VirtualService* l4_routes = nullptr);

// A DestinationRule's policy and subsets applied to a service, and each
// port's resolved policy.
void apply_destination_rule(Service& s, const IstioResource<istio::networking::DestinationRule>* rule);

}  // namespace sluice::config
