// What sluice parses but does not act on gives a warning, never an error,
// from one table (unimplemented_fields.h).
#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include "resource_loader.h"
#include "unimplemented_fields.h"
#include "validate.h"
#include "validation_text.h"

using namespace sluice::config;

namespace {

std::vector<Diagnostic> validate_text(const std::string& yaml) { return sluice::test::validate_text(yaml, "u.yaml"); }

using sluice::test::all;

// Every entry names a message, a field path and an enum value that exist:
// a typo would silently warn about nothing.
TEST(UnimplementedFields, EveryEntryNamesARealField) {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const UnimplementedField& e : unimplemented_fields()) {
    SCOPED_TRACE(std::string(e.message) + " " + std::string(e.field));
    const auto* m = pool->FindMessageTypeByName("sluice.istio." + std::string(e.message));
    ASSERT_NE(m, nullptr);
    std::string_view rest = e.field;
    const google::protobuf::FieldDescriptor* f = nullptr;
    while (!rest.empty()) {
      const size_t dot = rest.find('.');
      f = m->FindFieldByName(std::string(rest.substr(0, dot)));
      ASSERT_NE(f, nullptr);
      if (dot == std::string_view::npos) break;
      m = f->message_type();
      ASSERT_NE(m, nullptr);
      rest.remove_prefix(dot + 1);
    }
    if (!e.value.empty()) {
      ASSERT_NE(f, nullptr);
      ASSERT_NE(f->enum_type(), nullptr);
      EXPECT_NE(f->enum_type()->FindValueByName(std::string(e.value)), nullptr);
    }
  }
}

TEST(UnimplementedFields, AFieldSluiceIgnoresIsAWarningWithItsPath) {
  const auto d = validate_text(R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      loadBalancer:
        simple: ROUND_ROBIN
        warmup: {duration: 30s}
)");
  const std::string s = all(d);
  EXPECT_FALSE(has_errors(d)) << s;
  EXPECT_NE(s.find("u.yaml:7: warning: DestinationRule default/dr: spec.trafficPolicy.tls.mode: not implemented by sluice; "
                   "ignored: sluice has no workload certificates; connections to the upstream stay plain TCP"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("u.yaml:14: warning: DestinationRule default/dr: spec.subsets[0].trafficPolicy.loadBalancer.warmup: "
                   "not implemented by sluice; ignored"),
            std::string::npos)
      << s;
  // What sluice implements says nothing.
  EXPECT_EQ(s.find("simple"), std::string::npos) << s;
}

TEST(UnimplementedFields, RegistryOnlyIsEnforcedFromTheRootNamespaceOnly) {
  // The mesh-wide Sidecar: enforced (in the kernel, docs/egress.md), so no word.
  EXPECT_EQ(all(validate_text(R"(apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: istio-system}
spec:
  outboundTrafficPolicy:
    mode: REGISTRY_ONLY
)")),
            "");
  // A namespace's own: the kernel has one mode per node.
  const auto d = validate_text(R"(apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: foo}
spec:
  outboundTrafficPolicy:
    mode: REGISTRY_ONLY
)");
  const std::string s = all(d);
  EXPECT_FALSE(has_errors(d)) << s;
  EXPECT_NE(s.find("u.yaml:6: warning: Sidecar foo/default: spec.outboundTrafficPolicy.mode: not enforced by sluice: "
                   "the egress mode is node-wide, set by the Sidecar without workloadSelector in istio-system"),
            std::string::npos)
      << s;
  // ALLOW_ANY is what sluice does anyway.
  const auto allow = validate_text(R"(apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: foo}
spec:
  outboundTrafficPolicy: {mode: ALLOW_ANY}
)");
  EXPECT_EQ(all(allow), "");
}

TEST(UnimplementedFields, AuthorizationPolicyIsEnforcedButNotCustom) {
  EXPECT_EQ(all(validate_text(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: default}
spec: {}
)")),
            "");
  const auto d = validate_text(R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext, namespace: default}
spec:
  action: CUSTOM
  provider: {name: ext-authz}
  rules: [{}]
)");
  EXPECT_EQ(all(d), "u.yaml:5: warning: AuthorizationPolicy default/ext: spec.action: parsed, not enforced by sluice: "
                    "no external authorizer is called; requests are decided as if the policy were absent\n");
}

TEST(UnimplementedFields, DnsResolutionIsDoneButDynamicDnsIsNot) {
  // DNS and DNS_ROUND_ROBIN: sluiced resolves the hosts (docs/egress.md).
  const std::string entry = R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: default}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: )";
  EXPECT_EQ(all(validate_text(entry + "DNS\n")), "");
  EXPECT_EQ(all(validate_text(entry + "DNS_ROUND_ROBIN\n")), "");
  EXPECT_EQ(all(validate_text(entry + "DYNAMIC_DNS\n")),
            "u.yaml:7: warning: ServiceEntry default/ext: spec.resolution: not implemented by sluice; ignored: "
            "hosts are not resolved; the entry has no endpoints\n");
}

TEST(UnimplementedFields, AServiceWithoutClusterIpGetsNoVipHere) {
  const auto d = validate_text(R"(apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  ports: [{name: http, port: 80}]
)");
  EXPECT_EQ(all(d), "u.yaml:4: warning: Service default/web: spec.clusterIP: no clusterIP: the service gets no VIP here "
                    "(in a cluster, the API server assigns one)\n");
}

}  // namespace
