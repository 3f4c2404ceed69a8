// Config loading, validation and snapshot building, from YAML fixtures in
// the style of Istio's docs (bookinfo, httpbin) and from inline documents.
#include <gtest/gtest.h>

#include "diagnostic.h"
#include "duration.h"
#include "l4_view.h"
#include "service_text.h"
#include "snapshot_builder.h"

using namespace sluice;
using namespace sluice::config;

namespace {

const std::string kFixtures = std::string(SLUICE_SOURCE_DIR) + "/test/fixtures/config";

BuildResult build_text(const std::string& yaml, const std::string& name = "test.yaml") {
  LoadResult loaded;
  load_yaml_text(yaml, name, loaded);
  return build_snapshot(std::move(loaded), 1);
}

std::string all(const std::vector<Diagnostic>& diags) {
  std::string s;
  for (const auto& d : diags) s += d.to_string() + "\n";
  return s;
}

// The whole bookinfo fixture plus one more document.
BuildResult with_bookinfo(const std::string& extra) {
  LoadResult loaded = load_resources({kFixtures + "/bookinfo"});
  load_yaml_text(extra, "extra.yaml", loaded);
  return build_snapshot(std::move(loaded), 1);
}

const ServiceSpec* l4(const MeshSnapshot& s, const char* vip, uint16_t port, uint8_t proto = 6) {
  uint32_t addr = 0;
  uint16_t ignored = 0;
  parse_ip_port(std::string(vip) + ":1", addr, ignored);
  // The datapath's view of the snapshot; specs are kept for the test's life.
  static std::vector<SharedServiceSpec> keep;
  const L4ServiceMap view = build_l4_view(s);
  const SharedServiceSpec* spec = view.get({addr, port, proto});
  if (!spec) return nullptr;
  keep.push_back(*spec);
  return keep.back().get();
}

}  // namespace

// --- good configurations -------------------------------------------------

TEST(ConfigLoad, BookinfoFixtureIsValid) {
  BuildResult r = load_snapshot({kFixtures + "/bookinfo"}, 7);
  ASSERT_TRUE(r.snapshot) << all(r.diagnostics);
  EXPECT_FALSE(has_errors(r.diagnostics)) << all(r.diagnostics);
  EXPECT_EQ(r.snapshot->version, 7u);
  EXPECT_EQ(r.snapshot->resources.virtual_services.size(), 2u);
  EXPECT_EQ(r.snapshot->resources.pods.size(), 6u);  // from a kind: List
}

TEST(ConfigLoad, HttpbinFixtureIsValid) {
  BuildResult r = load_snapshot({kFixtures + "/httpbin/httpbin.yaml"}, 1);
  ASSERT_TRUE(r.snapshot) << all(r.diagnostics);
  const auto& vs = r.snapshot->resources.virtual_services.at(0)->spec;
  EXPECT_EQ(vs.http(0).fault().delay().fixed_delay().seconds(), 7);
  EXPECT_DOUBLE_EQ(vs.http(0).fault().abort().percentage().value(), 50.5);
  EXPECT_EQ(r.snapshot->resources.authorization_policies.at(0)->spec.rules(0).when(0).values_size(), 2);
}

TEST(ConfigLoad, DurationsInIstioForms) {
  EXPECT_EQ(parse_duration_ns("1.5s"), 1500000000);
  EXPECT_EQ(parse_duration_ns("250ms"), 250000000);
  EXPECT_EQ(parse_duration_ns("5m"), 300000000000);
  EXPECT_EQ(parse_duration_ns("1h30m"), 5400000000000);
  EXPECT_EQ(parse_duration_ns("0"), 0);
  EXPECT_FALSE(parse_duration_ns("5"));
  EXPECT_FALSE(parse_duration_ns("-1s"));
  EXPECT_FALSE(parse_duration_ns("1.2.3s"));
  EXPECT_FALSE(parse_duration_ns("fast"));
}

TEST(ConfigSnapshot, ServicesGetFqdnsVipsAndProtocols) {
  BuildResult r = load_snapshot({kFixtures + "/bookinfo"}, 1);
  ASSERT_TRUE(r.snapshot) << all(r.diagnostics);
  const Service* reviews = r.snapshot->find_service("reviews.default.svc.cluster.local");
  ASSERT_NE(reviews, nullptr);
  EXPECT_EQ(format_ip(reviews->vip), "10.96.0.20");
  EXPECT_EQ(reviews->ports.at(0).protocol, Protocol::kHttp);
  EXPECT_EQ(r.snapshot->find_service("productpage.default.svc.cluster.local")->ports.at(0).protocol,
            Protocol::kHttp);  // appProtocol
  EXPECT_EQ(r.snapshot->find_service("mongodb.default.svc.cluster.local")->ports.at(0).protocol,
            Protocol::kTcp);
  ASSERT_EQ(reviews->subsets.size(), 3u);
  EXPECT_EQ(reviews->subsets[1].labels.at("version"), "v2");
}

TEST(ConfigSnapshot, SocketRedirectOptOutAnnotation) {
  BuildResult r = build_text(R"(apiVersion: v1
kind: Service
metadata: {name: db, namespace: default, annotations: {sluice.io/socket-redirect: "off"}}
spec: {clusterIP: 10.96.0.40, ports: [{name: tcp, port: 5432}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {clusterIP: 10.96.0.41, ports: [{name: http, port: 80}]}
)");
  ASSERT_TRUE(r.snapshot) << all(r.diagnostics);
  EXPECT_FALSE(r.snapshot->find_service("db.default.svc.cluster.local")->socket_redirect);
  ASSERT_NE(l4(*r.snapshot, "10.96.0.40", 5432), nullptr);
  EXPECT_FALSE(l4(*r.snapshot, "10.96.0.40", 5432)->socket_redirect);
  ASSERT_NE(l4(*r.snapshot, "10.96.0.41", 80), nullptr);
  EXPECT_TRUE(l4(*r.snapshot, "10.96.0.41", 80)->socket_redirect);
}

// A TCP port goes to the daemon (the L7 flag) only while a mesh
// VirtualService's tcp routes take it, and only the ports they take.
TEST(ConfigSnapshot, TcpRoutesSendTheirTcpPortsToTheDaemon) {
  const std::string services = R"(apiVersion: v1
kind: Service
metadata: {name: db, namespace: default}
spec: {clusterIP: 10.96.0.40, ports: [{name: tcp-a, port: 5432}, {name: tcp-b, port: 6379}, {name: http, port: 80}]}
)";
  const std::string vs = R"(---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: default}
spec:
  hosts: [db]
  tcp:
  - match: [{port: 5432}]
    route: [{destination: {host: db}}]
)";
  BuildMemo memo;
  auto build = [&](const std::string& yaml, uint64_t version) {
    LoadResult loaded;
    load_yaml_text(yaml, "test.yaml", loaded);
    return build_snapshot(std::move(loaded), version, &memo);
  };
  BuildResult before = build(services, 1);
  ASSERT_TRUE(before.snapshot) << all(before.diagnostics);
  EXPECT_FALSE(l4(*before.snapshot, "10.96.0.40", 5432)->l7);
  EXPECT_TRUE(l4(*before.snapshot, "10.96.0.40", 80)->l7);

  BuildResult after = build(services + vs, 2);
  ASSERT_TRUE(after.snapshot) << all(after.diagnostics);
  EXPECT_TRUE(l4(*after.snapshot, "10.96.0.40", 5432)->l7) << "the route's port";
  EXPECT_FALSE(l4(*after.snapshot, "10.96.0.40", 6379)->l7) << "a port no route takes stays in the kernel";
  EXPECT_TRUE(l4(*after.snapshot, "10.96.0.40", 80)->l7);
}

TEST(ConfigSnapshot, TlsRoutesSendThePortsTheyMatchToTheDaemon) {
  const std::string yaml = R"(apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {clusterIP: 10.96.0.41, ports: [{name: https, port: 443}, {name: tls-b, port: 8443}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web, a.example.com]
  tls:
  - match: [{sniHosts: [a.example.com], port: 443}]
    route: [{destination: {host: web}}]
)";
  LoadResult loaded;
  load_yaml_text(yaml, "tls.yaml", loaded);
  BuildResult r = build_snapshot(std::move(loaded), 1);
  ASSERT_TRUE(r.snapshot) << all(r.diagnostics);
  EXPECT_FALSE(has_errors(r.diagnostics)) << all(r.diagnostics);
  EXPECT_TRUE(l4(*r.snapshot, "10.96.0.41", 443)->l7) << "the tls match's port";
  EXPECT_FALSE(l4(*r.snapshot, "10.96.0.41", 8443)->l7) << "a port no route takes stays in the kernel";
  const auto& routes = r.snapshot->mesh_routes.at("web.default.svc.cluster.local");
  ASSERT_EQ(routes.tls.size(), 1u);
  EXPECT_EQ(routes.tls[0].destinations.at(0).host, "web.default.svc.cluster.local");
}

TEST(ConfigValidation, TlsRoutesNeedMatchesWithSniHosts) {
  BuildResult r = with_bookinfo(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: t, namespace: default}
spec:
  hosts: [reviews]
  tls:
  - route: [{destination: {host: reviews}}]
  - match: [{port: 9080}]
    route: [{destination: {host: reviews}}]
  - match: [{sniHosts: [a.example.com], destinationSubnets: [10.96.0.300]}]
    route: [{destination: {host: reviews}}]
)");
  const std::string d = all(r.diagnostics);
  EXPECT_NE(d.find("VirtualService default/t: spec.tls[0].match: TLS route must have at least one match condition"), std::string::npos) << d;
  EXPECT_NE(d.find("spec.tls[1].match[0].sniHosts: TLS match must have at least one SNI host"), std::string::npos) << d;
  EXPECT_NE(d.find("spec.tls[2].match[0].destinationSubnets[0]: 10.96.0.300 is not a valid IP"), std::string::npos) << d;
}

TEST(ConfigSnapshot, EndpointsFromPodSelectors) {
  BuildResult r = load_snapshot({kFixtures + "/bookinfo"}, 1);
  ASSERT_TRUE(r.snapshot);
  const auto& eps = r.snapshot->find_service("reviews.default.svc.cluster.local")->ports.at(0).endpoints;
  ASSERT_EQ(eps.size(), 3u) << "the Pending pod is not an endpoint";
  EXPECT_EQ(eps[0].label_map().at("version"), "v1");
  // A named targetPort resolves through the container's port names.
  const auto& ratings = r.snapshot->find_service("ratings.default.svc.cluster.local")->ports.at(0).endpoints;
  ASSERT_EQ(ratings.size(), 1u);
  EXPECT_EQ(ratings[0].port, 9081);
  // No targetPort: the service port.
  EXPECT_EQ(r.snapshot->find_service("productpage.default.svc.cluster.local")->ports.at(0).endpoints.at(0).port, 9080);
}

TEST(ConfigSnapshot, EndpointsFromEndpointSlicesSkipNotReady) {
  BuildResult r = load_snapshot({kFixtures + "/httpbin"}, 1);
  ASSERT_TRUE(r.snapshot) << all(r.diagnostics);
  const ServiceSpec* s = l4(*r.snapshot, "10.96.1.10", 8000);
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->backends.size(), 2u);
  EXPECT_EQ(s->backends[0].port, 80);
}

TEST(ConfigSnapshot, IstioDefaultsApply) {
  BuildResult r = load_snapshot({kFixtures + "/bookinfo", kFixtures + "/httpbin"}, 1);
  ASSERT_TRUE(r.snapshot) << all(r.diagnostics);
  // No DestinationRule: LEAST_REQUEST and unlimited connections.
  const ServiceSpec* pp = l4(*r.snapshot, "10.96.0.22", 9080);
  ASSERT_NE(pp, nullptr);
  EXPECT_EQ(pp->algo, SL_LB_LEAST_REQUEST);
  EXPECT_EQ(pp->max_conns, SL_UNLIMITED);
  const auto& pol = r.snapshot->find_service("productpage.default.svc.cluster.local")->ports[0].policy;
  EXPECT_FALSE(pol.outlier.enabled);
  EXPECT_EQ(pol.connection_pool.connect_timeout_ms, 10000);
  EXPECT_EQ(pol.connection_pool.http1_max_pending_requests, kUnlimited);
  EXPECT_EQ(pol.connection_pool.http_idle_timeout_ms, 3600 * 1000);

  EXPECT_EQ(l4(*r.snapshot, "10.96.0.20", 9080)->algo, SL_LB_ROUND_ROBIN);
  const ServiceSpec* ratings = l4(*r.snapshot, "10.96.0.21", 9080);
  EXPECT_EQ(ratings->algo, SL_LB_CONSISTENT_HASH);
  EXPECT_EQ(ratings->maglev_size, 251u);
  EXPECT_EQ(ratings->max_conns, 100u);

  const auto& hb = r.snapshot->find_service("httpbin.foo.svc.cluster.local")->ports[0].policy;
  EXPECT_EQ(hb.connection_pool.max_connections, 1u);
  EXPECT_EQ(hb.connection_pool.http1_max_pending_requests, 1u);
  EXPECT_EQ(hb.connection_pool.max_requests_per_connection, 1u);
  EXPECT_TRUE(hb.outlier.enabled);
  EXPECT_EQ(hb.outlier.consecutive_5xx_errors, 1u);
  EXPECT_EQ(hb.outlier.consecutive_gateway_errors, 0u);
  EXPECT_EQ(hb.outlier.interval_ms, 1000);
  EXPECT_EQ(hb.outlier.base_ejection_time_ms, 180000);
  EXPECT_EQ(hb.outlier.max_ejection_percent, 100u);
}

TEST(ConfigSnapshot, OutlierDetectionBlockDefaults) {
  BuildResult r = with_bookinfo(R"(
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: pp, namespace: default}
spec:
  host: productpage
  trafficPolicy:
    outlierDetection: {}
)");
  ASSERT_TRUE(r.snapshot) << all(r.diagnostics);
  const auto& od = r.snapshot->find_service("productpage.default.svc.cluster.local")->ports[0].policy.outlier;
  EXPECT_TRUE(od.enabled);
  EXPECT_EQ(od.consecutive_5xx_errors, 5u);
  EXPECT_EQ(od.interval_ms, 10000);
  EXPECT_EQ(od.base_ejection_time_ms, 30000);
  EXPECT_EQ(od.max_ejection_percent, 10u);
  EXPECT_EQ(od.min_health_percent, 0u);
}

TEST(ConfigSnapshot, SubsetAndPortPoliciesOverrideFieldByField) {
  istio::networking::TrafficPolicy top;
  top.mutable_load_balancer()->set_simple(istio::networking::LoadBalancerSettings::ROUND_ROBIN);
  top.mutable_connection_pool()->mutable_tcp()->set_max_connections(7);
  auto* pls = top.add_port_level_settings();
  pls->mutable_port()->set_number(9080);
  pls->mutable_connection_pool()->mutable_tcp()->set_max_connections(9);
  istio::networking::TrafficPolicy subset;
  subset.mutable_load_balancer()->set_simple(istio::networking::LoadBalancerSettings::RANDOM);

  ResolvedPolicy p = resolve_policy(&top, &subset, 80);
  EXPECT_EQ(p.load_balancer.kind, LoadBalancerPolicy::Kind::kRandom);
  EXPECT_EQ(p.connection_pool.max_connections, 7u);  // kept from the top level
  EXPECT_EQ(resolve_policy(&top, nullptr, 9080).connection_pool.max_connections, 9u);
}

TEST(ConfigSnapshot, ServiceEntryStaticEndpointsWithWeights) {
  BuildResult r = load_snapshot({kFixtures + "/httpbin"}, 1);
  ASSERT_TRUE(r.snapshot);
  const ServiceSpec* db = l4(*r.snapshot, "10.96.5.5", 5432);
  ASSERT_NE(db, nullptr);
  ASSERT_EQ(db->backends.size(), 2u);
  EXPECT_EQ(db->backends[1].weight, 3u);
}

TEST(ConfigSnapshot, HostResolution) {
  EXPECT_EQ(resolve_host("reviews", "default"), "reviews.default.svc.cluster.local");
  EXPECT_EQ(resolve_host("reviews", "prod"), "reviews.prod.svc.cluster.local");
  EXPECT_EQ(resolve_host("reviews.prod.svc.cluster.local", "default"), "reviews.prod.svc.cluster.local");
  EXPECT_EQ(resolve_host("*.example.com", "default"), "*.example.com");
  EXPECT_EQ(resolve_host("*", "default"), "*");
  EXPECT_EQ(resolve_host("10.1.2.3", "default"), "10.1.2.3");
}

TEST(ConfigSnapshot, ProtocolSelection) {
  EXPECT_EQ(select_protocol("", "http", "TCP"), Protocol::kHttp);
  EXPECT_EQ(select_protocol("", "http-web", "TCP"), Protocol::kHttp);
  EXPECT_EQ(select_protocol("", "http2-api", "TCP"), Protocol::kHttp2);
  EXPECT_EQ(select_protocol("", "grpc", "TCP"), Protocol::kGrpc);
  EXPECT_EQ(select_protocol("", "grpc-web", "TCP"), Protocol::kGrpc);
  EXPECT_EQ(select_protocol("", "tcp-db", "TCP"), Protocol::kTcp);
  EXPECT_EQ(select_protocol("", "httpx", "TCP"), Protocol::kTcp);  // only the prefix before '-'
  EXPECT_EQ(select_protocol("", "", "TCP"), Protocol::kTcp);
  EXPECT_EQ(select_protocol("http", "tcp-x", "TCP"), Protocol::kHttp);  // appProtocol wins
  EXPECT_EQ(select_protocol("kubernetes.io/h2c", "", "TCP"), Protocol::kHttp2);
  EXPECT_EQ(select_protocol("", "dns", "UDP"), Protocol::kUdp);
}

// --- validation: every rule names file, line, resource and field ---------

struct BadCase {
  const char* name;
  const char* yaml;
  const char* expected;  // a substring of one diagnostic
};

class ConfigValidation : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigValidation, RejectsWithAPreciseMessage) {
  const BadCase& c = GetParam();
  BuildResult r = with_bookinfo(c.yaml);
  EXPECT_TRUE(has_errors(r.diagnostics)) << "expected an error";
  EXPECT_NE(all(r.diagnostics).find(c.expected), std::string::npos) << all(r.diagnostics);
}

INSTANTIATE_TEST_SUITE_P(
    Rules, ConfigValidation,
    ::testing::Values(
        BadCase{"UnknownField", R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: x, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
    timeOut: 1s
)",
                "extra.yaml:9: VirtualService default/x: spec.http[0].timeOut: unknown field"},
        BadCase{"BadEnum", R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: x, namespace: default}
spec:
  host: productpage
  trafficPolicy:
    loadBalancer:
      simple: FASTEST
)",
                "extra.yaml:8: DestinationRule default/x: spec.trafficPolicy.loadBalancer.simple: invalid value 'FASTEST'"},
        BadCase{"BadDuration", R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: x, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
    timeout: 10 seconds
)",
                "spec.http[0].timeout: invalid duration '10 seconds'"},
        BadCase{"PercentageOutOfRange", R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: x, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
    fault:
      abort:
        httpStatus: 500
        percentage: {value: 150}
)",
                "extra.yaml:12: VirtualService default/x: spec.http[0].fault.abort.percentage: percentage 150"},
        BadCase{"RegexDoesNotCompile", R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: x, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match:
    - uri:
        regex: "/api/(v1"
    route:
    - destination: {host: reviews}
)",
                "extra.yaml:9: VirtualService default/x: spec.http[0].match[0].uri.regex: invalid RE2 regex"},
        BadCase{"DuplicateSubsetName", R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: pp, namespace: default}
spec:
  host: productpage
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v1, labels: {version: v2}}
)",
                "spec.subsets[1].name: duplicate subset names: v1"},
        BadCase{"PortOutOfRange", R"(apiVersion: v1
kind: Service
metadata: {name: big, namespace: default}
spec:
  clusterIP: 10.96.9.9
  ports:
  - {name: http, port: 70000}
)",
                "Service default/big: spec.ports[0].port: port 70000 out of range 1-65535"},
        BadCase{"DestinationPortOutOfRange", R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: x, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, port: {number: 0}}
)",
                "spec.http[0].route[0].destination.port.number: port 0 out of range"},
        BadCase{"MaglevSizeNotPrime", R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: x, namespace: default}
spec:
  host: productpage
  trafficPolicy:
    loadBalancer:
      consistentHash:
        useSourceIp: true
        maglev: {tableSize: 1000}
)",
                "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize: tableSize must be a prime number for maglev"},
        BadCase{"TwoOneofMembers", R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: x, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match:
    - uri: {exact: /a, prefix: /b}
    route:
    - destination: {host: reviews}
)",
                "only one of 'exact' and 'prefix' may be set"},
        BadCase{"MissingName", R"(apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {namespace: default}
spec: {servers: []}
)",
                "metadata.name: missing"},
        BadCase{"UnsupportedVersion", R"(apiVersion: networking.istio.io/v2
kind: Gateway
metadata: {name: g}
spec: {}
)",
                "apiVersion: unsupported version 'networking.istio.io/v2'"},
        BadCase{"YamlSyntax", "apiVersion: v1\nkind: Service\nmetadata: {name: [oops\n",
                "extra.yaml:"},
        BadCase{"WrongShape", R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: x, namespace: default}
spec:
  hosts: reviews
)",
                "spec.hosts: expected a list, got a scalar"},
        BadCase{"MaglevSizeTooLarge", R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: x, namespace: default}
spec:
  host: productpage
  trafficPolicy:
    loadBalancer:
      consistentHash:
        useSourceIp: true
        maglev: {tableSize: 18446744073709551557}
)",
                "extra.yaml:10: DestinationRule default/x: spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize: "
                "tableSize must be less than 5000011 for maglev"},
        // Numbers too large for any integer type: an error, never an exception.
        BadCase{"AuthorizationPortTooLargeForAnyInteger", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: huge, namespace: default}
spec:
  rules:
  - to:
    - operation:
        ports: ["99999999999999999999"]
)",
                "extra.yaml:8: AuthorizationPolicy default/huge: spec.rules[0].to[0].operation.ports[0]: bad port "
                "(99999999999999999999)"},
        BadCase{"AuthorizationPortJustAboveRange", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: default}
spec:
  rules:
  - to:
    - operation:
        ports: ["80", "65536"]
)",
                "AuthorizationPolicy default/p: spec.rules[0].to[0].operation.ports[1]: bad port (65536)"},
        BadCase{"AuthorizationPortNegative", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: default}
spec:
  rules:
  - to:
    - operation:
        ports: ["-1"]
)",
                "spec.rules[0].to[0].operation.ports[0]: bad port (-1)"},
        BadCase{"CidrPrefixTooLargeForAnyInteger", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: default}
spec:
  rules:
  - from:
    - source:
        ipBlocks: ["10.0.0.0/99999999999999999999"]
        notIpBlocks: ["10.0.0.0/33"]
)",
                "extra.yaml:8: AuthorizationPolicy default/p: spec.rules[0].from[0].source.ipBlocks[0]: bad CIDR range "
                "(10.0.0.0/99999999999999999999)"},
        BadCase{"ServicePortTooLargeForAnyInteger", R"(apiVersion: v1
kind: Service
metadata: {name: big, namespace: default}
spec:
  clusterIP: 10.96.9.9
  ports:
  - {name: http, port: 99999999999999999999}
)",
                "extra.yaml:7: Service default/big: spec.ports[0].port: '99999999999999999999' is out of range"},
        BadCase{"DestinationPortTooLargeForAnyInteger", R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: x, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, port: {number: 99999999999999999999}}
)",
                "spec.http[0].route[0].destination.port.number: '99999999999999999999' is out of range"},
        BadCase{"WeightTooLargeForAnyInteger", R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: x, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
      weight: 99999999999999999999
)",
                "spec.http[0].route[0].weight: '99999999999999999999' is out of range"},
        BadCase{"DurationTooLong", R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: x, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
    timeout: 99999999999999999999h
)",
                "spec.http[0].timeout: invalid duration '99999999999999999999h'"},
        BadCase{"PercentageTooLargeForADouble", R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: x, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
    fault:
      abort:
        httpStatus: 500
        percentage: {value: 1e999}
)",
                "spec.http[0].fault.abort.percentage.value: expected a number, got '1e999'"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; });

TEST(ConfigValidation, HostWithoutServiceIsOnlyAWarning) {
  BuildResult r = with_bookinfo(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: x, namespace: default}
spec:
  hosts: [nowhere]
  http:
  - route:
    - destination: {host: nowhere}
)");
  ASSERT_TRUE(r.snapshot) << all(r.diagnostics);
  EXPECT_NE(all(r.diagnostics).find("warning: VirtualService default/x: spec.http[0].route[0].destination.host: "
                                    "Referenced host not found: \"nowhere\""),
            std::string::npos)
      << all(r.diagnostics);
}

TEST(ConfigValidation, GatewayCredentialWithoutASecretIsAWarning) {
  BuildResult r = build_text(R"(apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [www.example.com]
    tls: {mode: SIMPLE, credentialName: missing-cert}
---
apiVersion: v1
kind: Service
metadata: {name: s, namespace: default, annotations: {sluice.io/socket-redirect: "maybe"}}
spec: {clusterIP: 10.96.0.9, ports: [{name: http, port: 80}]}
)", "gw.yaml");
  ASSERT_TRUE(r.snapshot) << all(r.diagnostics);
  EXPECT_NE(all(r.diagnostics).find("gw.yaml:9: warning: Gateway default/gw: spec.servers[0].tls.credentialName: "
                                    "Referenced credentialName not found: \"missing-cert\""),
            std::string::npos)
      << all(r.diagnostics);
  EXPECT_NE(all(r.diagnostics).find("Service default/s: metadata.annotations.sluice.io/socket-redirect: expected"),
            std::string::npos)
      << all(r.diagnostics);
}

TEST(ConfigValidation, UnknownKindIsIgnoredWithAWarning) {
  BuildResult r = with_bookinfo("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n");
  ASSERT_TRUE(r.snapshot) << all(r.diagnostics);
  EXPECT_NE(all(r.diagnostics).find("ConfigMap is not used by sluice"), std::string::npos);
}

TEST(ConfigValidation, KubernetesObjectsAreReadLeniently) {
  BuildResult r = with_bookinfo(R"(apiVersion: v1
kind: Service
metadata: {name: extra, namespace: default, managedFields: [{manager: kubectl}], creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  clusterIP: 10.96.3.3
  ipFamilies: [IPv4]
  ports: [{name: http, port: 80}]
status: {loadBalancer: {}}
)");
  EXPECT_TRUE(r.snapshot) << all(r.diagnostics);
}

TEST(ConfigValidation, LinesInsideAListPointAtTheItem) {
  BuildResult r = build_text(R"(apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: a, namespace: default}
  spec: {clusterIP: 10.96.9.1, ports: [{name: http, port: 80}]}
- apiVersion: v1
  kind: Service
  metadata: {name: b, namespace: default}
  spec:
    clusterIP: 10.96.9.2
    ports:
    - name: http
      port: 0
)",
                             "list.yaml");
  EXPECT_TRUE(has_errors(r.diagnostics));
  EXPECT_NE(all(r.diagnostics).find("list.yaml:15: Service default/b: spec.ports[0].port: port 0 out of range"),
            std::string::npos)
      << all(r.diagnostics);
}

TEST(ConfigRoutes, VirtualServiceRoutesAreResolvedPerHost) {
  BuildResult r = load_snapshot({kFixtures + "/bookinfo"}, 1);
  ASSERT_TRUE(r.snapshot) << all(r.diagnostics);
  const auto& routes = r.snapshot->mesh_routes.at("reviews.default.svc.cluster.local").http;
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].virtual_service, "default/reviews");
  EXPECT_EQ(routes[0].spec->name(), "jason");
  ASSERT_EQ(routes[0].destinations.size(), 1u);
  EXPECT_EQ(routes[0].destinations[0].host, "reviews.default.svc.cluster.local");
  EXPECT_EQ(routes[0].destinations[0].subset, "v2");
  EXPECT_EQ(routes[0].destinations[0].weight, 100);
  // No retries block: Istio's default policy; no timeout: off.
  EXPECT_EQ(routes[0].retries, RetryPolicy{});
  EXPECT_EQ(routes[0].timeout_ms, 0);
  // Explicit timeout and retries.
  EXPECT_EQ(routes[1].timeout_ms, 1500);
  EXPECT_EQ(routes[1].retries.attempts, 3u);
  EXPECT_EQ(routes[1].retries.per_try_timeout_ms, 500);
  EXPECT_EQ(routes[1].retries.retry_on, "5xx,connect-failure");
  EXPECT_EQ(routes[1].destinations[1].weight, 10);
}

TEST(ConfigRoutes, GatewayBoundRoutesAreSeparateFromMeshRoutes) {
  BuildResult r = load_snapshot({kFixtures + "/bookinfo"}, 1);
  ASSERT_TRUE(r.snapshot);
  EXPECT_EQ(r.snapshot->mesh_routes.count("*"), 0u);
  const auto& gw = r.snapshot->gateway_routes.at("default/bookinfo-gateway");
  ASSERT_EQ(gw.at("*").http.size(), 1u);
  EXPECT_EQ(gw.at("*").http[0].destinations[0].port, 9080u);
}

TEST(ConfigRoutes, AFaultRouteGetsNoRetriesOrTimeout) {
  BuildResult r = load_snapshot({kFixtures + "/httpbin"}, 1);
  ASSERT_TRUE(r.snapshot);
  const auto& route = r.snapshot->mesh_routes.at("httpbin.foo.svc.cluster.local").http.at(0);
  EXPECT_EQ(route.retries.attempts, 0u);
  EXPECT_EQ(route.timeout_ms, 0);
}

TEST(ConfigRoutes, GatewayNamesResolveAsIstioDoes) {
  EXPECT_EQ(resolve_gateway_name("gw", "default"), "default/gw");
  EXPECT_EQ(resolve_gateway_name("./gw", "prod"), "prod/gw");
  EXPECT_EQ(resolve_gateway_name("istio-system/gw", "prod"), "istio-system/gw");
  EXPECT_EQ(resolve_gateway_name("gw.istio-system.svc.cluster.local", "prod"), "istio-system/gw");
  EXPECT_EQ(resolve_gateway_name("mesh", "prod"), "mesh");
}
