// Validation parity with Istio: each resource judged on its own, as
// `istioctl validate -f` and Istio's admission webhook judge it. A case is
// one of istio/istio pkg/config/validation's rules, with the message
// sluice prints for it; "" means Istio accepts the resource (no error).
#include <gtest/gtest.h>

#include <set>

#include "analyze.h"
#include "diagnostic.h"
#include "resource_loader.h"
#include "snapshot_builder.h"
#include "validate.h"
#include "validation_text.h"

using namespace sluice::config;

namespace {

std::vector<Diagnostic> validate_text(const std::string& yaml) { return sluice::test::validate_text(yaml, "t.yaml"); }

std::string errors_of(const std::vector<Diagnostic>& diags) {
  std::string s;
  for (const auto& d : diags) {
    if (d.severity == Severity::kError) s += d.to_string() + "\n";
  }
  return s;
}

using sluice::test::all;

struct ParityCase {
  const char* name;
  const char* yaml;
  const char* error;  // a substring of one error; "" for none
};

class IstioParity : public ::testing::TestWithParam<ParityCase> {};

TEST_P(IstioParity, JudgesLikeIstio) {
  const ParityCase& c = GetParam();
  const std::vector<Diagnostic> diags = validate_text(c.yaml);
  const std::string errors = errors_of(diags);
  if (std::string(c.error).empty()) {
    EXPECT_EQ(errors, "") << all(diags);
  } else {
    EXPECT_NE(errors.find(c.error), std::string::npos) << all(diags);
  }
}

#define SE_HEAD "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se, namespace: default}\nspec:\n"
#define DR_HEAD "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr, namespace: default}\nspec:\n"
#define VS_HEAD "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs, namespace: default}\nspec:\n"
#define GW_HEAD "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: default}\nspec:\n"
#define SC_HEAD "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: sc, namespace: default}\nspec:\n"
#define AP_HEAD "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ap, namespace: default}\nspec:\n"

INSTANTIATE_TEST_SUITE_P(
    Rules, IstioParity,
    ::testing::Values(
        // --- accepted by Istio (sluice used to reject them) ---
        ParityCase{"SubsetDefinedElsewhereIsNoError", VS_HEAD R"(  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
)",
                   ""},
        ParityCase{"WeightsNeedNotSumTo100", VS_HEAD R"(  hosts: [reviews]
  http:
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 80}
    - {destination: {host: reviews, subset: v2}, weight: 10}
)",
                   ""},
        ParityCase{"TrustDomainsParse", AP_HEAD R"(  rules:
  - from:
    - source: {trustDomains: [cluster.local], notTrustDomains: [other.local]}
)",
                   ""},
        ParityCase{"Http2KeepAliveParses", DR_HEAD R"(  host: reviews
  trafficPolicy:
    connectionPool:
      http: {http2KeepAlive: {interval: 30s, timeout: 5s}}
)",
                   ""},
        ParityCase{"Ipv6InAFlowSequence", SE_HEAD R"(  hosts: [db.example.com]
  addresses: [1.2.3.4, 2001:db8::]
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  resolution: STATIC
  endpoints: [{address: 10.0.0.1}]
)",
                   ""},
        ParityCase{"DelegateVirtualServiceHasNoHosts", VS_HEAD R"(  http:
  - route:
    - destination: {host: reviews}
)",
                   ""},
        // --- ServiceEntry ---
        ParityCase{"WildcardHostWithDns", SE_HEAD R"(  hosts: ["*.example.com"]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
)",
                   "t.yaml:5: ServiceEntry default/se: spec.hosts[0]: hosts must be FQDN if no endpoints are provided "
                   "for resolution mode DNS"},
        ParityCase{"NoneResolutionWithEndpoints", SE_HEAD R"(  hosts: [a.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: NONE
  endpoints: [{address: 10.0.0.1}]
)",
                   "ServiceEntry default/se: spec.endpoints: no endpoints should be provided for resolution type none"},
        ParityCase{"CidrAddressWithDns", SE_HEAD R"(  hosts: [a.example.com]
  addresses: [10.0.0.0/24]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
)",
                   "t.yaml:6: ServiceEntry default/se: spec.addresses: CIDR addresses are allowed only for NONE/STATIC "
                   "resolution types"},
        ParityCase{"WorkloadSelectorWithEndpoints", SE_HEAD R"(  hosts: [a.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  workloadSelector: {labels: {app: a}}
  endpoints: [{address: 10.0.0.1}]
)",
                   "spec.workloadSelector: only one of WorkloadSelector or Endpoints is allowed in Service Entry"},
        ParityCase{"DnsRoundRobinWithTwoEndpoints", SE_HEAD R"(  hosts: [a.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS_ROUND_ROBIN
  endpoints: [{address: a1.example.com}, {address: a2.example.com}]
)",
                   "spec.endpoints: there must only be 0 or 1 endpoint for resolution mode DNS_ROUND_ROBIN"},
        ParityCase{"StaticEndpointMustBeAnIp", SE_HEAD R"(  hosts: [a.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: a1.example.com}]
)",
                   "spec.endpoints[0].address: endpoint address \"a1.example.com\" is not a valid IP address"},
        ParityCase{"PortNameIsRequired", SE_HEAD R"(  hosts: [a.example.com]
  ports: [{number: 80, protocol: HTTP}]
)",
                   "spec.ports[0].name: invalid port name: "},
        ParityCase{"FullWildcardHost", SE_HEAD R"(  hosts: ["*"]
  ports: [{number: 80, name: http, protocol: HTTP}]
)",
                   "spec.hosts[0]: invalid host *"},
        // --- DestinationRule ---
        ParityCase{"WarmupWithoutDuration", DR_HEAD R"(  host: reviews
  trafficPolicy:
    loadBalancer:
      warmup: {minimumPercent: 10}
)",
                   "DestinationRule default/dr: spec.trafficPolicy.loadBalancer.warmup.duration: duration is required"},
        ParityCase{"WarmupMinimumPercentOutOfRange", DR_HEAD R"(  host: reviews
  trafficPolicy:
    loadBalancer:
      warmup: {duration: 60s, minimumPercent: 150}
)",
                   "spec.trafficPolicy.loadBalancer.warmup.minimumPercent: minimumPercent value should be less than or "
                   "equal to 100"},
        ParityCase{"WarmupAggressionBelowOne", DR_HEAD R"(  host: reviews
  trafficPolicy:
    loadBalancer:
      warmup: {duration: 60s, aggression: 0.5}
)",
                   "spec.trafficPolicy.loadBalancer.warmup.aggression: aggression should be greater than or equal to 1"},
        ParityCase{"EmptyTrafficPolicy", DR_HEAD "  host: reviews\n  trafficPolicy: {}\n",
                   "spec.trafficPolicy: traffic policy must have at least one field"},
        ParityCase{"MaglevNotPrime", DR_HEAD R"(  host: reviews
  trafficPolicy:
    loadBalancer:
      consistentHash: {useSourceIp: true, maglev: {tableSize: 1000}}
)",
                   "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize: tableSize must be a prime number for maglev"},
        ParityCase{"NegativeMaxConnections", DR_HEAD R"(  host: reviews
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: -1}
)",
                   "spec.trafficPolicy.connectionPool.tcp.maxConnections: max connections must be non-negative"},
        ParityCase{"SubSecondDuration", DR_HEAD R"(  host: reviews
  trafficPolicy:
    outlierDetection: {interval: 0s}
)",
                   "spec.trafficPolicy.outlierDetection.interval: duration must be greater than 1ms"},
        ParityCase{"SubsetNameIsADnsLabel", DR_HEAD R"(  host: reviews
  subsets:
  - {name: V1_beta, labels: {version: v1}}
)",
                   "spec.subsets[0].name: subset name is invalid: V1_beta"},
        ParityCase{"DuplicateSubsets", DR_HEAD R"(  host: reviews
  subsets:
  - {name: v1}
  - {name: v1}
)",
                   "spec.subsets[1].name: duplicate subset names: v1"},
        ParityCase{"LocalOriginWithoutSplit", DR_HEAD R"(  host: reviews
  trafficPolicy:
    outlierDetection: {consecutiveLocalOriginFailures: 3}
)",
                   "outlier detection consecutive local origin failures is specified, but split external local origin "
                   "errors is set to false"},
        // --- VirtualService ---
        ParityCase{"RouteAndRedirect", VS_HEAD R"(  hosts: [reviews]
  http:
  - redirect: {uri: /new}
    route: [{destination: {host: reviews}}]
)",
                   "t.yaml:7: VirtualService default/vs: spec.http[0]: HTTP route cannot contain both route and redirect"},
        ParityCase{"NoRouteAtAll", VS_HEAD R"(  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /a}}]
)",
                   "spec.http[0]: HTTP route, redirect or direct_response is required"},
        ParityCase{"MeshWildcardHost", VS_HEAD R"(  hosts: ["*"]
  http:
  - route: [{destination: {host: reviews}}]
)",
                   "spec.hosts[0]: wildcard host * is not allowed for virtual services bound to the mesh gateway"},
        ParityCase{"GatewayWildcardHostIsFine", VS_HEAD R"(  hosts: ["*"]
  gateways: [bookinfo-gateway]
  http:
  - route: [{destination: {host: productpage}}]
)",
                   ""},
        ParityCase{"DuplicateHosts", VS_HEAD R"(  hosts: [a.example.com, "*.example.com"]
  http:
  - route: [{destination: {host: reviews}}]
)",
                   "duplicate hosts in virtual service: a.example.com & *.example.com"},
        ParityCase{"BadRetryOn", VS_HEAD R"(  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
    retries: {attempts: 2, retryOn: "5xx,bogus"}
)",
                   "spec.http[0].retries.retryOn: \"bogus\" is not a valid retryOn policy"},
        ParityCase{"RetryOnAStatusCodeIsFine", VS_HEAD R"(  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
    retries: {attempts: 2, retryOn: "503,connect-failure"}
)",
                   ""},
        ParityCase{"AllWeightsZero", VS_HEAD R"(  hosts: [reviews]
  http:
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 0}
    - {destination: {host: reviews, subset: v2}, weight: 0}
)",
                   "spec.http[0].route: total destination weight = 0"},
        ParityCase{"FaultWithNeitherDelayNorAbort", VS_HEAD R"(  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
    fault: {}
)",
                   "spec.http[0].fault: HTTP fault injection must have an abort and/or a delay"},
        ParityCase{"SniHostOutsideTheHosts", VS_HEAD R"(  hosts: [a.example.com]
  tls:
  - match: [{sniHosts: [b.example.com]}]
    route: [{destination: {host: a.example.com}}]
)",
                   "SNI host \"b.example.com\" is not a compatible subset of any of the virtual service hosts: "
                   "[a.example.com]"},
        ParityCase{"HostHeaderCannotBeRemoved", VS_HEAD R"(  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
    headers: {response: {remove: [Host]}}
)",
                   "spec.http[0].headers.response.remove[0]: invalid header \"Host\": cannot set Host header"},
        ParityCase{"TimeoutZero", VS_HEAD R"(  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
    timeout: 0s
)",
                   "spec.http[0].timeout: duration must be greater than 1ms"},
        // --- Gateway ---
        ParityCase{"HttpsWithoutTls", GW_HEAD R"(  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*"]
)",
                   "spec.servers[0].tls: server must have TLS settings for HTTPS/TLS protocols"},
        ParityCase{"SimpleWithoutACertificate", GW_HEAD R"(  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE}
)",
                   "spec.servers[0].tls: SIMPLE TLS requires a server certificate"},
        ParityCase{"ServerPortNeedsAName", GW_HEAD R"(  servers:
  - port: {number: 80, protocol: HTTP}
    hosts: ["*"]
)",
                   "spec.servers[0].port.name: port name must be set"},
        ParityCase{"ShortServerHost", GW_HEAD R"(  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [reviews]
)",
                   "spec.servers[0].hosts[0]: short names (non FQDN) are not allowed"},
        ParityCase{"HttpsRedirectOnPlainHttpIsFine", GW_HEAD R"(  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
    tls: {httpsRedirect: true}
)",
                   ""},
        // --- Sidecar ---
        ParityCase{"EmptySidecar", SC_HEAD "  workloadSelector: {labels: {app: a}}\n",
                   "Sidecar default/sc: spec: sidecar: empty configuration provided"},
        ParityCase{"EgressHostWithoutNamespace", SC_HEAD R"(  egress:
  - hosts: [reviews.default.svc.cluster.local]
)",
                   "spec.egress[0].hosts[0]: host must be of form namespace/dnsName"},
        ParityCase{"EgressProxyNeedsAllowAny", SC_HEAD R"(  outboundTrafficPolicy:
    mode: REGISTRY_ONLY
    egressProxy: {host: proxy.example.com, port: {number: 3128}}
)",
                   "sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode"},
        // --- AuthorizationPolicy ---
        ParityCase{"ServiceAccountsWithNamespaces", AP_HEAD R"(  rules:
  - from:
    - source: {serviceAccounts: [default/sleep], namespaces: [default]}
)",
                   "t.yaml:7: AuthorizationPolicy default/ap: spec.rules[0].from[0].source: cannot set serviceAccounts "
                   "with namespaces or principals, found at rule 0"},
        ParityCase{"ServiceAccountsWithPrincipals", AP_HEAD R"(  rules:
  - from:
    - source: {notServiceAccounts: [sleep], principals: [cluster.local/ns/default/sa/sleep]}
)",
                   "cannot set serviceAccounts with namespaces or principals, found at rule 0"},
        ParityCase{"ServiceAccountWithWildcard", AP_HEAD R"(  rules:
  - from:
    - source: {serviceAccounts: ["default/*"]}
)",
                   "spec.rules[0].from[0].source.serviceAccounts[0]: wildcard not allowed, found in ServiceAccounts"},
        ParityCase{"DenyWithoutRules", AP_HEAD "  action: DENY\n",
                   "spec.rules: DENY action without `rules` is meaningless"},
        ParityCase{"PortAboveRange", AP_HEAD R"(  rules:
  - to:
    - operation: {ports: ["80", "65536"]}
)",
                   "spec.rules[0].to[0].operation.ports[1]: bad port (65536)"},
        ParityCase{"PortZeroIsFine", AP_HEAD R"(  rules:
  - to:
    - operation: {ports: ["0"]}
)",
                   ""},
        ParityCase{"EmptySource", AP_HEAD R"(  rules:
  - from:
    - source: {}
)",
                   "`from.source` must not be empty, found at rule 0"},
        ParityCase{"UnknownConditionKey", AP_HEAD R"(  rules:
  - when:
    - {key: request.colour, values: [red]}
)",
                   "spec.rules[0].when[0].values: invalid `value` for `key` request.colour: unknown attribute: request.colour"},
        ParityCase{"ProviderWithoutCustom", AP_HEAD R"(  action: ALLOW
  provider: {name: ext}
  rules: [{}]
)",
                   "spec.provider: `provider` must not be with non CUSTOM action, found ALLOW"}),
    [](const ::testing::TestParamInfo<ParityCase>& info) { return info.param.name; });

// The per-resource admission in the daemon rejects exactly the resources
// that errors name: an error without its resource would reject nothing.
TEST(ValidationErrors, EveryErrorNamesItsResource) {
  LoadResult loaded;
  load_yaml_text(VS_HEAD R"(  hosts: ["*"]
  http:
  - route: [{destination: {host: "*", subset: Bad_Name}, weight: -1}]
    timeout: 0s
---
)" DR_HEAD R"(  host: ""
  trafficPolicy: {}
---
)" SE_HEAD R"(  hosts: ["*"]
  resolution: NONE
  endpoints: [{address: x}]
---
)" GW_HEAD R"(  servers: []
---
)" SC_HEAD R"(  {}
---
)" AP_HEAD R"(  action: DENY
---
apiVersion: v1
kind: Service
metadata: {name: s, namespace: default}
spec: {clusterIP: 10.96.0.1, ports: [{port: 0}, {port: 80}]}
---
)" R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ok, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews}}]
)",
                 "bad.yaml", loaded);
  ASSERT_FALSE(has_errors(loaded.diagnostics)) << all(loaded.diagnostics);
  std::set<std::string> ids;
  loaded.resources.for_each_list([&](const auto& list) {
    for (const auto& r : list) ids.insert(r->meta.id());
  });
  BuildResult r = build_snapshot(std::move(loaded), 1);
  // Per-resource admission (admission.h): only the valid one is in force.
  ASSERT_TRUE(r.snapshot);
  std::set<std::string> admitted;
  r.snapshot->resources.for_each_list([&](const auto& list) {
    for (const auto& x : list) admitted.insert(x->meta.id());
  });
  EXPECT_EQ(admitted, std::set<std::string>{"VirtualService default/ok"});
  size_t errors = 0;
  std::set<std::string> named;
  for (const Diagnostic& d : r.diagnostics) {
    if (d.severity != Severity::kError) continue;
    ++errors;
    EXPECT_TRUE(ids.count(d.resource)) << "error without its resource: " << d.to_string();
    named.insert(d.resource);
  }
  EXPECT_GT(errors, 10u);
  // Every resource here has an error, except the last VirtualService.
  EXPECT_EQ(named.size(), ids.size() - 1) << all(r.diagnostics);
  EXPECT_FALSE(named.count("VirtualService default/ok")) << all(r.diagnostics);
}

// validate judges each resource on its own: no reference findings; analyze
// adds them.
TEST(ValidationViews, ValidateHasNoReferenceFindings) {
  const std::string yaml = VS_HEAD R"(  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews, subset: v9}}]
)";
  EXPECT_EQ(all(validate_text(yaml)), "");
}

}  // namespace
