// The API resources sluiced lists and watches, by API path. A new kind
// joins here and in config/object_reader.h, nowhere else.
#pragma once

#include <string>
#include <vector>

namespace sluice::kube {

struct ResourceType {
  std::string group;    // "" for the core API
  std::string version;  // "v1"
  std::string plural;   // "services"
  std::string kind;     // "Service": the items of a list carry no kind, so the type gives it
  std::string field_selector;  // narrows the watch, e.g. Secrets of type kubernetes.io/tls

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  // The cluster-wide collection: /api/v1/services, /apis/discovery.k8s.io/v1/endpointslices.
  std::string path() const;
};

// What sluiced reads: Services, EndpointSlices, Pods, Namespaces, TLS
// Secrets (for Gateway credentials), and Istio's networking and security
// resources at their v1 versions.
std::vector<ResourceType> watched_types();

}  // namespace sluice::kube
