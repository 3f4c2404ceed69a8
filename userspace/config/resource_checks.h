// The checks of one resource on its own, as istioctl validate (and Istio's
// admission webhook) make them: istio/istio pkg/config/validation is the
// reference, and messages follow its wording. One file per kind. Nothing
// here looks at another resource (references.h does).
#pragma once

#include "k8s.pb.h"
#include "resource_checker.h"
#include "security.pb.h"
#include "sluice.pb.h"

namespace sluice::config {

void check_virtual_service(ResourceChecker& c, const istio::networking::VirtualService& vs);
void check_destination_rule(ResourceChecker& c, const istio::networking::DestinationRule& dr);
void check_service_entry(ResourceChecker& c, const istio::networking::ServiceEntry& se);
void check_gateway(ResourceChecker& c, const istio::networking::Gateway& gw);
void check_sidecar(ResourceChecker& c, const istio::networking::Sidecar& sc);
void check_authorization_policy(ResourceChecker& c, const istio::security::AuthorizationPolicy& ap);
void check_kubernetes_service(ResourceChecker& c, const k8s::Service& svc);
void check_envoy_filter(ResourceChecker& c, const istio::networking::EnvoyFilter& f);
void check_rate_limit_policy(ResourceChecker& c, const istio::sluice::RateLimitPolicy& p);

// Shared by kinds: DestinationRule and Sidecar connection pools, Gateway and
// Sidecar server TLS, and the destinations of routes and egress proxies.
void check_connection_pool(ResourceChecker& c, const std::string& path,
                           const istio::networking::ConnectionPoolSettings& cp);
void check_server_tls(ResourceChecker& c, const std::string& path, const istio::networking::ServerTLSSettings& tls);
void check_destination(ResourceChecker& c, const std::string& path, const istio::networking::Destination& d);
// "namespace/dnsName" hosts of Gateway servers and Sidecar egress listeners
// (agent.ValidateNamespaceSlashWildcardHostname).
void check_namespace_slash_host(ResourceChecker& c, const std::string& path, const std::string& host, bool gateway);
// ValidateAlphaWorkloadSelector (Sidecar, ServiceEntry: the `labels` form);
// `who` names the kind in the warning ("sidecar", "service entry").
void check_alpha_workload_selector(ResourceChecker& c, const istio::networking::WorkloadSelector& ws,
                                   const std::string& who);
// Istio's host.Name.Matches and SubsetOf ("*.foo.com" style wildcards).
bool hosts_overlap(std::string_view a, std::string_view b);
bool host_subset_of(std::string_view host, std::string_view of);

}  // namespace sluice::config
