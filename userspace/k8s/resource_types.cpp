#include "resource_types.h"

namespace sluice::kube {

std::string ResourceType::path() const {
  return (group.empty() ? "/api/" : "/apis/" + group + "/") + version + "/" + plural;
}

std::vector<ResourceType> watched_types() {
  return {
      {"", "v1", "namespaces", "Namespace", ""},
      {"", "v1", "services", "Service", ""},
      {"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", ""},
      {"", "v1", "pods", "Pod", ""},
      // Only TLS Secrets, and of those only the ones a Gateway names reach
      // the snapshot (kube_store.h): a node proxy has no use for the rest.
      {"", "v1", "secrets", "Secret", "type=kubernetes.io/tls"},
      {"networking.istio.io", "v1", "virtualservices", "VirtualService", ""},
      {"networking.istio.io", "v1", "destinationrules", "DestinationRule", ""},
      {"networking.istio.io", "v1", "serviceentries", "ServiceEntry", ""},
      {"networking.istio.io", "v1", "gateways", "Gateway", ""},
      {"networking.istio.io", "v1", "sidecars", "Sidecar", ""},
      // Only served as v1alpha3; read for its local rate limit pattern.
      {"networking.istio.io", "v1alpha3", "envoyfilters", "EnvoyFilter", ""},
      {"security.istio.io", "v1", "authorizationpolicies", "AuthorizationPolicy", ""},
      // sluice's own CRD (deploy/crds): optional, so a cluster without it
      // just has no rate limits (the reflector counts a 404 as empty).
      {"sluice.io", "v1alpha1", "ratelimitpolicies", "RateLimitPolicy", ""},
  };
}

}  // namespace sluice::kube
