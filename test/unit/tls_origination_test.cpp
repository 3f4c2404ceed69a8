// TLS origination and DNS ServiceEntries on the config side (docs/egress.md):
// the DestinationRule's tls settings per port, their validation (a bad one
// names its file, resource and field, and is rejected alone), the warnings
// for ports that cannot originate TLS, the resolved addresses of a DNS
// ServiceEntry as its VIPs and endpoints, and the proxy's shared contexts.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "egress_policy.h"
#include "l4_view.h"
#include "resource_loader.h"
#include "snapshot_builder.h"
#include "tls_origination.h"
#include "validation_text.h"

namespace sluice::config {
namespace {

using test::all;

// Istio's egress TLS-origination task: the application calls port 80, the
// proxy dials 443 with TLS.
constexpr const char* kTask = R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: default}
spec:
  hosts: [api.example.test]
  ports:
  - {number: 80, name: http-port, protocol: HTTP, targetPort: 443}
  - {number: 443, name: https-port, protocol: HTTPS}
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api, namespace: default}
spec:
  host: api.example.test
  trafficPolicy:
    portLevelSettings:
    - port: {number: 80}
      tls: {mode: SIMPLE, sni: api.example.test, caCertificates: /etc/ca.pem, subjectAltNames: [api.example.test]}
)";

BuildResult build(const std::string& yaml, std::shared_ptr<const ResolvedHosts> resolved = nullptr) {
  LoadResult loaded;
  load_yaml_text(yaml, "u.yaml", loaded);
  loaded.resources.resolved_hosts = std::move(resolved);
  return build_snapshot(std::move(loaded), 1);
}

const ServicePort& port(const Service& s, uint16_t number) {
  auto it = std::find_if(s.ports.begin(), s.ports.end(), [&](const ServicePort& p) { return p.port == number; });
  EXPECT_NE(it, s.ports.end());
  return *it;
}

TEST(TlsOrigination, PortLevelSettingsGiveOnePortItsTls) {
  BuildResult r = build(kTask);
  ASSERT_TRUE(r.snapshot);
  EXPECT_TRUE(error_texts(r.diagnostics).empty()) << all(r.diagnostics);
  const Service* s = r.snapshot->find_service("api.example.test");
  ASSERT_NE(s, nullptr);
  const ClientTlsPolicy& tls = port(*s, 80).policy.tls;
  EXPECT_TRUE(tls.originates());
  EXPECT_EQ(tls.sni, "api.example.test");
  EXPECT_EQ(tls.ca_certificates, "/etc/ca.pem");
  EXPECT_EQ(tls.subject_alt_names, std::vector<std::string>{"api.example.test"});
  EXPECT_FALSE(port(*s, 443).policy.tls.originates());
}

TEST(TlsOrigination, ABadTlsFieldNamesItsPlaceAndRejectsThatRuleAlone) {
  const std::string bad = R"(
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: mutual, namespace: default}
spec:
  host: other.example.test
  trafficPolicy:
    tls: {mode: MUTUAL, privateKey: /k.pem}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: skip, namespace: default}
spec:
  host: third.example.test
  trafficPolicy:
    tls: {mode: SIMPLE, insecureSkipVerify: true, caCertificates: /ca.pem}
)";
  BuildResult r = build(std::string(kTask) + bad);
  const std::string s = all(r.diagnostics);
  EXPECT_NE(s.find("u.yaml:28: DestinationRule default/mutual: spec.trafficPolicy.tls.clientCertificate: "
                   "client certificate required for mutual tls"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("u.yaml:36: DestinationRule default/skip: spec.trafficPolicy.tls: cannot specify CaCertificates"),
            std::string::npos)
      << s;
  // The task's own rule stands.
  ASSERT_TRUE(r.snapshot);
  EXPECT_EQ(r.snapshot->rejections.size(), 2u) << s;
  EXPECT_TRUE(port(*r.snapshot->find_service("api.example.test"), 80).policy.tls.originates());
}

TEST(TlsOrigination, PortsThatCannotOriginateAreWarnedAbout) {
  const std::string more = R"(
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: grpc, namespace: default}
spec:
  hosts: [grpc.example.test]
  ports: [{number: 9000, name: grpc, protocol: GRPC}, {number: 5432, name: tcp, protocol: TCP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: grpc, namespace: default}
spec:
  host: grpc.example.test
  trafficPolicy:
    tls: {mode: SIMPLE}
)";
  const std::string s = all(build(std::string(kTask) + more).diagnostics);
  // HTTP/2 (a GRPC port) originates TLS with ALPN h2: nothing to warn about.
  EXPECT_EQ(s.find("tls on port 9000"), std::string::npos) << s;
  EXPECT_NE(s.find("tls on port 5432 of grpc.example.test (TCP): TLS origination is not supported on non-HTTP ports"),
            std::string::npos)
      << s;
  EXPECT_EQ(s.find("default/api: spec.trafficPolicy: tls on port"), std::string::npos) << s;
}

TEST(DnsServiceEntry, ResolvedAddressesAreItsVipsAndItsEndpointsOnTheTargetPort) {
  auto resolved = std::make_shared<ResolvedHosts>();
  (*resolved)["api.example.test"] = {0x0a6f3201, 0x0a6f3202};
  BuildResult r = build(kTask, resolved);
  const Service* s = r.snapshot->find_service("api.example.test");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->dns_addresses, (std::vector<uint32_t>{0x0a6f3201, 0x0a6f3202}));
  const ServicePort& http = port(*s, 80);
  EXPECT_TRUE(http.via_daemon);
  ASSERT_EQ(http.endpoints.size(), 2u);
  EXPECT_EQ(http.endpoints[0].ip, 0x0a6f3201u);
  EXPECT_EQ(http.endpoints[0].port, 443);
  EXPECT_EQ(port(*s, 443).endpoints[1].port, 443);

  // The kernel: the HTTP port at each address goes to the daemon and, as it
  // originates TLS, never falls back to plaintext L4; the HTTPS port stays direct.
  const auto specs = l4_specs_of(*s, {});
  ASSERT_EQ(specs.size(), 2u);
  for (const auto& spec : specs) {
    EXPECT_EQ(spec->port, 80);
    EXPECT_TRUE(spec->l7);
    EXPECT_TRUE(spec->fail_closed);
  }
  EXPECT_EQ(specs[1]->vip, 0x0a6f3202u);

  // Before any answer: no VIP, no endpoint.
  const Service* unresolved = build(kTask).snapshot->find_service("api.example.test");
  EXPECT_TRUE(unresolved->dns_addresses.empty());
  EXPECT_TRUE(port(*unresolved, 80).endpoints.empty());
}

TEST(DnsServiceEntry, NamedEndpointsAreResolvedAndHttpHostsAskedForTheProxy) {
  const std::string yaml = R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: pay, namespace: default}
spec:
  hosts: [pay.example.test]
  ports: [{number: 80, name: http}]
  resolution: DNS
  endpoints: [{address: eu.pay.example.test, ports: {http: 8443}}, {address: 10.111.8.8}]
)";
  auto resolved = std::make_shared<ResolvedHosts>();
  (*resolved)["eu.pay.example.test"] = {0x0a6f0909};
  (*resolved)["pay.example.test"] = {0x0a6f0101};
  BuildResult r = build(yaml, resolved);
  const Service* s = r.snapshot->find_service("pay.example.test");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->dns_addresses, std::vector<uint32_t>{0x0a6f0101});
  const ServicePort& http = port(*s, 80);
  ASSERT_EQ(http.endpoints.size(), 2u);
  EXPECT_EQ(http.endpoints[0].ip, 0x0a6f0909u);
  EXPECT_EQ(http.endpoints[0].port, 8443);
  EXPECT_EQ(http.endpoints[1].ip, 0x0a6f0808u);

  LoadResult loaded;
  load_yaml_text(yaml, "u.yaml", loaded);
  const EgressPolicy p = egress_policy_of(loaded.resources);
  EXPECT_EQ(p.proxied_hosts, (std::set<std::string>{"eu.pay.example.test", "pay.example.test"}));
}

}  // namespace
}  // namespace sluice::config

namespace sluice::proxy {
namespace {

TEST(OriginationContexts, OneContextPerSettingSharedUntilUnused) {
  OriginationContexts contexts;
  config::ClientTlsPolicy plain;
  EXPECT_EQ(contexts.get(plain, "a.test"), nullptr);

  config::ClientTlsPolicy simple;
  simple.mode = istio::networking::ClientTLSSettings::SIMPLE;
  auto a = contexts.get(simple, "a.test");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->sni, "a.test");
  EXPECT_TRUE(a->error.empty()) << a->error;  // the system bundle
  EXPECT_EQ(contexts.get(simple, "a.test"), a);
  auto b = contexts.get(simple, "b.test");
  EXPECT_NE(b->id, a->id);

  simple.ca_certificates = "/nonexistent/sluice-ca.pem";
  auto broken = contexts.get(simple, "a.test");
  EXPECT_NE(broken->error.find("caCertificates /nonexistent/sluice-ca.pem"), std::string::npos) << broken->error;

  // A setting no destination uses any more is built afresh, with a new id:
  // idle connections made with the old one are never taken for it.
  const uint64_t old_id = b->id;
  b.reset();
  EXPECT_NE(contexts.get(config::ClientTlsPolicy{simple.mode}, "b.test")->id, old_id);
}

TEST(Alpn, OneProtocolInWireFormAndTheServersChoiceJudged) {
  EXPECT_EQ(alpn_wire("h2"), std::string("\x02h2", 3));
  EXPECT_EQ(alpn_wire(""), std::string(1, '\0'));
  EXPECT_EQ(alpn_refusal("h2", "h2"), "");
  EXPECT_EQ(alpn_refusal("", ""), "");  // HTTP/1.1 offers none: nothing to judge
  EXPECT_EQ(alpn_refusal("", "http/1.1"), "");
  EXPECT_EQ(alpn_refusal("h2", ""), "TLS_error: ALPN: the server did not select h2 (it selected none)");
  EXPECT_EQ(alpn_refusal("h2", "http/1.1"), "TLS_error: ALPN: the server did not select h2 (it selected http/1.1)");
}

}  // namespace
}  // namespace sluice::proxy
