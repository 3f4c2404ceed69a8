// Every resource read from the config dir, typed, with where it came from.
#pragma once

#include <map>
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

struct ResourceSet {
  std::vector<IstioResource<istio::networking::VirtualService>> virtual_services;
  std::vector<IstioResource<istio::networking::DestinationRule>> destination_rules;
  std::vector<IstioResource<istio::networking::ServiceEntry>> service_entries;
  std::vector<IstioResource<istio::networking::Gateway>> gateways;
  std::vector<IstioResource<istio::networking::Sidecar>> sidecars;
  std::vector<IstioResource<istio::security::AuthorizationPolicy>> authorization_policies;
  std::vector<K8sResource<k8s::Service>> services;
  std::vector<K8sResource<k8s::Pod>> pods;
  std::vector<K8sResource<k8s::EndpointSlice>> endpoint_slices;
  std::vector<K8sResource<k8s::Secret>> secrets;
};

}  // namespace sluice::config
