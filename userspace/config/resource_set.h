// Every resource read from the config dir, typed, with where it came from.
#pragma once

#include <boost/container/flat_map.hpp>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "k8s.pb.h"
#include "networking.pb.h"
#include "security.pb.h"
#include "sluice.pb.h"
#include "yaml_to_proto.h"

namespace sluice::config {

// What resources were read from, shared by all of them: at 100k Pods a
// copy of these fields in every resource costs megabytes.
struct SourceText {
  std::string file;                          // a path, or the API server's name
  std::shared_ptr<const std::string> text;   // the YAML text (a piece of the file); null for API objects
  int line_offset = 0;                       // lines of the file before `text`
};

// Where a resource came from. Lines of individual fields are not stored
// (that costs more than the resources themselves at 10k services); a
// diagnostic finds its line by walking the kept text again (line_of).
struct Source {
  std::shared_ptr<const SourceText> from;  // set for every resource read
  int line = 0;                            // the resource's first line
  uint32_t document = 0;                   // index in from->text's YAML stream
  std::string base;                        // path of the resource in it ("items[3]" in a List)

  const std::string& file() const;
  // The line of a field path ("spec.http[0].route"), else of its nearest
  // parent, else the resource's first line.
  int line_of(const std::string& path) const;
};

// The name of a kind sluice reads, in static storage (a copy in every
// resource would cost megabytes at 100k Pods); "" for other kinds.
std::string_view kind_name(std::string_view kind);

// Labels in one sorted array: a pod has a handful, and a node keeps every
// pod's (a std::map node per label costs twice the bytes and an allocation
// each). Lookups, iteration order and comparison are as with std::map.
using Labels = boost::container::flat_map<std::string, std::string>;

struct Meta {
  std::string_view kind;  // static storage: one of the kinds sluice reads (kind_name)
  std::string name;
  std::string ns;
  std::string created;  // metadata.creationTimestamp (RFC 3339), when known: Istio's order of precedence
  Labels labels;
  std::string id() const { return std::string(kind) + " " + ns + "/" + name; }
};

// An Istio resource: metadata plus its typed spec.
template <class Spec>
struct IstioResource {
  Meta meta;
  Spec spec;
  Source source;
};

// A Kubernetes object, kept whole (spec and status both matter).
template <class Object>
struct K8sResource {
  Meta meta;
  Object object;
  Source source;
};

// Resources are immutable once parsed and shared: an unchanged file's
// resources are reused by the next snapshot instead of being parsed again.
template <class T>
using SharedList = std::vector<std::shared_ptr<const T>>;

// One resource of any kind: what a single Kubernetes object becomes (none
// when it did not convert). The API store keeps objects in this form: a
// ResourceSet per object would cost ~300 bytes each at 100k Pods.
using AnyResource = std::variant<std::monostate, std::shared_ptr<const IstioResource<istio::networking::VirtualService>>,
                                 std::shared_ptr<const IstioResource<istio::networking::DestinationRule>>,
                                 std::shared_ptr<const IstioResource<istio::networking::ServiceEntry>>,
                                 std::shared_ptr<const IstioResource<istio::networking::Gateway>>,
                                 std::shared_ptr<const IstioResource<istio::networking::Sidecar>>,
                                 std::shared_ptr<const IstioResource<istio::networking::EnvoyFilter>>,
                                 std::shared_ptr<const IstioResource<istio::security::AuthorizationPolicy>>,
                                 std::shared_ptr<const IstioResource<istio::sluice::RateLimitPolicy>>,
                                 std::shared_ptr<const K8sResource<k8s::Service>>,
                                 std::shared_ptr<const K8sResource<k8s::Pod>>,
                                 std::shared_ptr<const K8sResource<k8s::EndpointSlice>>,
                                 std::shared_ptr<const K8sResource<k8s::Secret>>,
                                 std::shared_ptr<const K8sResource<k8s::Namespace>>>;

// The IPv4 addresses (host order, sorted) that names resolve to, asked by
// the daemon (policy/dns_resolver.h) for ServiceEntries with resolution
// DNS. Not a resource, but an input of the build like one: a changed answer
// gives a new snapshot.
using ResolvedHosts = std::map<std::string, std::vector<uint32_t>, std::less<>>;

struct ResourceSet {
  SharedList<IstioResource<istio::networking::VirtualService>> virtual_services;
  SharedList<IstioResource<istio::networking::DestinationRule>> destination_rules;
  SharedList<IstioResource<istio::networking::ServiceEntry>> service_entries;
  SharedList<IstioResource<istio::networking::Gateway>> gateways;
  SharedList<IstioResource<istio::networking::Sidecar>> sidecars;
  SharedList<IstioResource<istio::networking::EnvoyFilter>> envoy_filters;
  SharedList<IstioResource<istio::security::AuthorizationPolicy>> authorization_policies;
  SharedList<IstioResource<istio::sluice::RateLimitPolicy>> rate_limit_policies;  // sluice.io
  SharedList<K8sResource<k8s::Service>> services;
  SharedList<K8sResource<k8s::Pod>> pods;
  SharedList<K8sResource<k8s::EndpointSlice>> endpoint_slices;
  SharedList<K8sResource<k8s::Secret>> secrets;
  SharedList<K8sResource<k8s::Namespace>> namespaces;
  // Not a list: the for_each/zip helpers leave it alone; null: nothing resolved.
  std::shared_ptr<const ResolvedHosts> resolved_hosts;

  // Appends other's resources (pointers only).
  void append(const ResourceSet& other);
  // Appends r to the list of its kind (nothing for none).
  void add(const AnyResource& r);
  // Removes r from its list; the order of that list is not kept.
  void remove_unordered(const AnyResource& r);
  // The first resource held, or none.
  AnyResource first() const;

  // Calls f(list) for each of the lists above.
  template <class F>
  void for_each_list(F&& f) {
    f(virtual_services), f(destination_rules), f(service_entries), f(gateways), f(sidecars), f(envoy_filters);
    f(authorization_policies), f(rate_limit_policies), f(services), f(pods), f(endpoint_slices), f(secrets);
    f(namespaces);
  }
  // Calls f(list of a, same list of b) for each kind.
  template <class F>
  static void zip(ResourceSet& a, const ResourceSet& b, F&& f) {
    f(a.virtual_services, b.virtual_services), f(a.destination_rules, b.destination_rules);
    f(a.service_entries, b.service_entries), f(a.gateways, b.gateways), f(a.sidecars, b.sidecars);
    f(a.envoy_filters, b.envoy_filters);
    f(a.authorization_policies, b.authorization_policies), f(a.rate_limit_policies, b.rate_limit_policies);
    f(a.services, b.services), f(a.pods, b.pods);
    f(a.endpoint_slices, b.endpoint_slices), f(a.secrets, b.secrets), f(a.namespaces, b.namespaces);
  }
  template <class F>
  void for_each_list(F&& f) const {
    const_cast<ResourceSet*>(this)->for_each_list([&](const auto& list) { f(list); });
  }
};

}  // namespace sluice::config
