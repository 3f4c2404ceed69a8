// Every resource read from the config dir, typed, with where it came from.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "k8s.pb.h"
#include "networking.pb.h"
#include "security.pb.h"
#include "yaml_to_proto.h"

namespace sluice::config {

struct Source {
  std::string file;
  int line = 0;      // line of the resource's first key
  FieldLines lines;  // field path -> line
  int line_of(const std::string& path) const;  // the path, else its nearest parent
};

struct Meta {
  std::string kind;
  std::string name;
  std::string ns;
  std::map<std::string, std::string> labels;
  std::string id() const { return kind + " " + ns + "/" + name; }
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

struct ResourceSet {
  SharedList<IstioResource<istio::networking::VirtualService>> virtual_services;
  SharedList<IstioResource<istio::networking::DestinationRule>> destination_rules;
  SharedList<IstioResource<istio::networking::ServiceEntry>> service_entries;
  SharedList<IstioResource<istio::networking::Gateway>> gateways;
  SharedList<IstioResource<istio::networking::Sidecar>> sidecars;
  SharedList<IstioResource<istio::security::AuthorizationPolicy>> authorization_policies;
  SharedList<K8sResource<k8s::Service>> services;
  SharedList<K8sResource<k8s::Pod>> pods;
  SharedList<K8sResource<k8s::EndpointSlice>> endpoint_slices;
  SharedList<K8sResource<k8s::Secret>> secrets;

  // Appends other's resources (pointers only).
  void append(const ResourceSet& other);
};

}  // namespace sluice::config
