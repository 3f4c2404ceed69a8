// Which tcp or tls route a connection takes (RequestRouter::decide_tcp): the
// L4 match fields of Istio's TCPRoute and TLSRoute against the original
// destination and the client pod, and sniHosts against the ClientHello's
// server name.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "request_router.h"
#include "snapshot_builder.h"

namespace sluice::proxy {
namespace {

constexpr uint32_t ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return (uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | d;
}

// db (10.96.0.40:5432) over pods db-v1 (10.200.1.1) and db-v2 (10.200.1.2);
// client pods in namespaces default (10.200.2.1, app=api) and other
// (10.200.2.2); then the tcp routes.
// The port is named tls (a TLS port, which tls routes apply to) when there
// are tls routes, unless port_name says otherwise.
config::SnapshotPtr snapshot_with(const std::string& tcp_routes, const std::string& tls_routes = "",
                                  std::string port_name = "") {
  if (port_name.empty()) port_name = tls_routes.empty() ? "tcp" : "tls";
  const std::string yaml = R"(apiVersion: v1
kind: Service
metadata: {name: db, namespace: default}
spec: {clusterIP: 10.96.0.40, selector: {app: db}, ports: [{name: )" + port_name + R"(, port: 5432}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db-v1, namespace: default, labels: {app: db, version: v1}}
status: {phase: Running, podIP: 10.200.1.1}
---
apiVersion: v1
kind: Pod
metadata: {name: db-v2, namespace: default, labels: {app: db, version: v2}}
status: {phase: Running, podIP: 10.200.1.2}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: default, labels: {app: api}}
status: {phase: Running, podIP: 10.200.2.1}
---
apiVersion: v1
kind: Pod
metadata: {name: job, namespace: other, labels: {app: job}}
status: {phase: Running, podIP: 10.200.2.2}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db, namespace: default}
spec:
  host: db
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: default}
spec:
  # The SNI hosts of the tls routes are among the hosts, as Istio requires.
  hosts: [db, "*.example.com", a]
  tcp:
)" + tcp_routes + (tls_routes.empty() ? "" : "  tls:\n" + tls_routes);
  config::LoadResult loaded;
  config::load_yaml_text(yaml, "tcp.yaml", loaded);
  config::BuildResult r = config::build_snapshot(std::move(loaded), 1);
  EXPECT_TRUE(r.snapshot) << (r.diagnostics.empty() ? "" : r.diagnostics.front().to_string());
  return r.snapshot;
}

// The address of the endpoint a connection from `client` to `vip`:5432 goes to; 0: none.
uint32_t endpoint_for(const config::SnapshotPtr& snap, uint32_t client, uint32_t vip = ip(10, 96, 0, 40),
                      const std::string* sni = nullptr) {
  RequestRouter router(std::make_shared<ClusterRegistry>());
  OriginalDestination dst;
  dst.vip = vip;
  dst.port = 5432;
  dst.proto = 6;
  RouteDecision d = router.decide_tcp(snap, dst, client, sni);
  return d.endpoint ? d.endpoint->ip : 0;
}

uint32_t endpoint_for_hello(const config::SnapshotPtr& snap, uint32_t client, const std::string& sni) {
  return endpoint_for(snap, client, ip(10, 96, 0, 40), &sni);
}

constexpr uint32_t kApi = ip(10, 200, 2, 1), kJob = ip(10, 200, 2, 2), kV1 = ip(10, 200, 1, 1), kV2 = ip(10, 200, 1, 2);
const std::string kToV2 = "    route: [{destination: {host: db, subset: v2}}]\n";
const std::string kElseV1 = "  - route: [{destination: {host: db, subset: v1}}]\n";
const std::string kToV1Tls = "    route: [{destination: {host: db, subset: v1}}]\n";

TEST(TcpRouteMatch, SourceLabelsAndNamespace) {
  auto snap = snapshot_with("  - match: [{sourceLabels: {app: api}}]\n" + kToV2 + kElseV1);
  ASSERT_TRUE(snap);
  EXPECT_EQ(endpoint_for(snap, kApi), kV2);
  EXPECT_EQ(endpoint_for(snap, kJob), kV1);
  snap = snapshot_with("  - match: [{sourceNamespace: other}]\n" + kToV2 + kElseV1);
  ASSERT_TRUE(snap);
  EXPECT_EQ(endpoint_for(snap, kJob), kV2);
  EXPECT_EQ(endpoint_for(snap, kApi), kV1);
}

TEST(TcpRouteMatch, SourceAndDestinationSubnets) {
  auto snap = snapshot_with("  - match: [{sourceSubnet: 10.200.2.2/32}]\n" + kToV2 + kElseV1);
  ASSERT_TRUE(snap);
  EXPECT_EQ(endpoint_for(snap, kJob), kV2);
  EXPECT_EQ(endpoint_for(snap, kApi), kV1);
  snap = snapshot_with("  - match: [{destinationSubnets: [10.96.0.0/24]}]\n" + kToV2 + kElseV1);
  ASSERT_TRUE(snap);
  EXPECT_EQ(endpoint_for(snap, kApi), kV2);
  snap = snapshot_with("  - match: [{destinationSubnets: [10.97.0.0/16, 10.96.0.41]}]\n" + kToV2 + kElseV1);
  ASSERT_TRUE(snap);
  EXPECT_EQ(endpoint_for(snap, kApi), kV1);
}

TEST(TcpRouteMatch, APortMatchAndNoMatchingRouteFallsBackToTheService) {
  auto snap = snapshot_with("  - match: [{port: 5432, sourceLabels: {app: nobody}}]\n" + kToV2);
  ASSERT_TRUE(snap);
  // No route matches: the service's own endpoints, either version.
  const uint32_t got = endpoint_for(snap, kApi);
  EXPECT_TRUE(got == kV1 || got == kV2) << got;
  snap = snapshot_with("  - match: [{port: 5432}]\n" + kToV2);
  ASSERT_TRUE(snap);
  EXPECT_EQ(endpoint_for(snap, kApi), kV2);
}

TEST(TlsRouteMatch, SniHostsPickTheRouteAndTcpRoutesCatchTheRest) {
  auto snap = snapshot_with(kElseV1, "  - match: [{sniHosts: [a.example.com]}]\n" + kToV2);
  ASSERT_TRUE(snap);
  EXPECT_EQ(endpoint_for_hello(snap, kApi, "a.example.com"), kV2);
  EXPECT_EQ(endpoint_for_hello(snap, kApi, "b.example.com"), kV1) << "no tls route: the tcp routes";
  EXPECT_EQ(endpoint_for_hello(snap, kApi, ""), kV1) << "a hello without a server name";
  EXPECT_EQ(endpoint_for(snap, kApi), kV1) << "not TLS at all";
}

TEST(TlsRouteMatch, WildcardsAndTheL4FieldsAreAnded) {
  auto snap = snapshot_with(kElseV1, "  - match: [{sniHosts: ['*.example.com'], sourceLabels: {app: api}}]\n" + kToV2);
  ASSERT_TRUE(snap);
  EXPECT_EQ(endpoint_for_hello(snap, kApi, "x.example.com"), kV2);
  EXPECT_EQ(endpoint_for_hello(snap, kApi, "example.com"), kV1) << "a wildcard does not cover its own domain";
  EXPECT_EQ(endpoint_for_hello(snap, kJob, "x.example.com"), kV1) << "sourceLabels miss";
  snap = snapshot_with(kElseV1, "  - match: [{sniHosts: [a.example.com], port: 5433}]\n" + kToV2);
  ASSERT_TRUE(snap);
  EXPECT_EQ(endpoint_for_hello(snap, kApi, "a.example.com"), kV1) << "port miss";
  snap = snapshot_with(kElseV1, "  - match: [{sniHosts: [a.example.com], destinationSubnets: [10.96.0.40/32]}]\n" + kToV2);
  ASSERT_TRUE(snap);
  EXPECT_EQ(endpoint_for_hello(snap, kApi, "a.example.com"), kV2);
}

TEST(TlsRouteMatch, OnlyTlsRoutesThatTakeThePortAskForTheHello) {
  OriginalDestination dst;
  dst.vip = ip(10, 96, 0, 40);
  dst.port = 5432;
  dst.proto = 6;
  // A router per snapshot: a router re-reads a snapshot only when its
  // version changes, and every snapshot here is version 1. (Reusing one
  // router kept pointers into the first, freed snapshot.)
  auto wants = [&](const config::SnapshotPtr& snap) {
    RequestRouter router(std::make_shared<ClusterRegistry>());
    return router.wants_client_hello(snap, dst);
  };
  EXPECT_TRUE(wants(snapshot_with(kElseV1, "  - match: [{sniHosts: [a]}]\n" + kToV2)));
  EXPECT_TRUE(wants(snapshot_with(kElseV1, "  - match: [{sniHosts: [a], port: 5432}]\n" + kToV2)));
  EXPECT_FALSE(wants(snapshot_with(kElseV1, "  - match: [{sniHosts: [a], port: 1}]\n" + kToV2)));
  EXPECT_FALSE(wants(snapshot_with(kElseV1)));
  EXPECT_FALSE(wants(snapshot_with(kElseV1, "  - match: [{sniHosts: [a]}]\n" + kToV2, "tcp-db")))
      << "tls routes apply to TLS and HTTPS ports only";
}

TEST(TlsRouteMatch, TheMostSpecificServerNameWinsWhateverTheOrder) {
  auto snap = snapshot_with(kElseV1, "  - match: [{sniHosts: ['*.example.com']}]\n" + kToV2 +
                                         "  - match: [{sniHosts: [a.example.com]}]\n" + kToV1Tls);
  ASSERT_TRUE(snap);
  EXPECT_EQ(endpoint_for_hello(snap, kApi, "a.example.com"), kV1) << "exact beats the wildcard listed first";
  EXPECT_EQ(endpoint_for_hello(snap, kApi, "b.example.com"), kV2);
}

}  // namespace
}  // namespace sluice::proxy
