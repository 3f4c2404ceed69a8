// `sluicectl analyze`: the findings across resources, with Istio's codes.
#include <gtest/gtest.h>

#include <fstream>

#include "analyze.h"
#include "resource_loader.h"
#include "snapshot_builder.h"
#include "temp_dir.h"

using namespace sluice::config;

namespace {

const std::string kBookinfo = std::string(SLUICE_SOURCE_DIR) + "/test/fixtures/config/bookinfo";

std::vector<Diagnostic> analyze_text(const std::string& yaml) {
  LoadResult loaded;
  load_yaml_text(yaml, "a.yaml", loaded);
  return analyze_resources(loaded.resources);
}

std::string lines(const std::vector<Diagnostic>& diags) {
  std::string s;
  for (const auto& d : diags) s += format_analysis(d) + "\n";
  return s;
}

constexpr const char* kReviews = R"(apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec: {clusterIP: 10.96.0.10, ports: [{name: http, port: 9080}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
)";

TEST(Analyze, UndefinedSubsetIsIst0101) {
  const auto d = analyze_text(std::string(kReviews) + R"(---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 50
    - destination: {host: reviews, subset: v3}
      weight: 50
)");
  EXPECT_EQ(lines(d),
            "Error [IST0101] (VirtualService default/reviews a.yaml:23) spec.http[0].route[1].destination.subset: "
            "Referenced host+subset in destinationrule not found: \"reviews+v3\"\n");
  ASSERT_EQ(d.size(), 1u);
  // The daemon keeps applying such a config: the finding is a warning there.
  EXPECT_EQ(d[0].severity, Severity::kWarning);
}

TEST(Analyze, UnknownHostGatewayAndCredential) {
  const auto d = analyze_text(std::string(kReviews) + R"(---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [www.example.com]
  gateways: [web-gateway, mesh]
  http:
  - route: [{destination: {host: web}}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: other, namespace: default}
spec:
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [www.example.com]
    tls: {mode: SIMPLE, credentialName: web-cert}
)");
  const std::string s = lines(d);
  EXPECT_NE(s.find("Error [IST0101] (VirtualService default/web a.yaml:19) spec.gateways[0]: Referenced gateway not "
                   "found: \"web-gateway\"\n"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("Error [IST0101] (VirtualService default/web a.yaml:21) spec.http[0].route[0].destination.host: "
                   "Referenced host not found: \"web\"\n"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("Error [IST0101] (Gateway default/other a.yaml:30) spec.servers[0].tls.credentialName: Referenced "
                   "credentialName not found: \"web-cert\"\n"),
            std::string::npos)
      << s;
  EXPECT_EQ(d.size(), 3u) << s;
}

TEST(Analyze, TwoMeshVirtualServicesForOneHostIsIst0109) {
  const auto d = analyze_text(std::string(kReviews) + R"(---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a, namespace: default}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: b, namespace: default}
spec:
  hosts: [reviews.default.svc.cluster.local]
  http: [{route: [{destination: {host: reviews}}]}]
)");
  const std::string s = lines(d);
  EXPECT_NE(s.find("Error [IST0109] (VirtualService default/b a.yaml:25) spec.hosts[0]: The VirtualServices "
                   "default/a,default/b associated with mesh gateway define the same host "
                   "reviews.default.svc.cluster.local which can lead to undefined behavior."),
            std::string::npos)
      << s;
  EXPECT_EQ(d.size(), 2u) << s;
}

TEST(Analyze, SidecarsWithoutSelectorsIsIst0111) {
  const auto d = analyze_text(R"(apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: one, namespace: shop}
spec: {outboundTrafficPolicy: {mode: ALLOW_ANY}}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: two, namespace: shop}
spec: {outboundTrafficPolicy: {mode: ALLOW_ANY}}
)");
  EXPECT_EQ(d.size(), 2u);
  EXPECT_NE(lines(d).find("Error [IST0111] (Sidecar shop/two a.yaml:9) spec: The Sidecars [one two] in namespace "
                          "\"shop\" have no workload selector, which can lead to undefined behavior.\n"),
            std::string::npos)
      << lines(d);
}

TEST(Analyze, BookinfoHasOneFinding) {
  const auto d = analyze_files({kBookinfo});
  std::vector<std::string> errors;
  for (const Diagnostic& x : d) {
    if (analysis_level(x) == "Error") errors.push_back(format_analysis(x));
  }
  // The fixture's HTTPS server names a Secret the fixture does not hold.
  ASSERT_EQ(errors.size(), 1u) << lines(d);
  EXPECT_NE(errors[0].find("[IST0101] (Gateway default/bookinfo-gateway"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("Referenced credentialName not found: \"bookinfo-cert\""), std::string::npos) << errors[0];
}

TEST(Analyze, AnalyzeAddsToValidate) {
  sluice::test::TempDir dir;
  std::ofstream(dir.path() / "vs.yaml") << R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: x, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews, subset: v9}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: y, namespace: default}
spec:
  hosts: [ratings]
  http:
  - route: [{destination: {host: ratings}}]
    timeout: 10 seconds
)";
  const auto v = validate_files({dir.path().string()});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(format_analysis(v[0]).rfind("Error [IST0106] (VirtualService default/y " + (dir.path() / "vs.yaml").string() +
                                             ":16) Schema validation error: spec.http[0].timeout: invalid duration '10 seconds'",
                                         0),
            0u)
      << format_analysis(v[0]);
  const auto a = analyze_files({dir.path().string()});
  ASSERT_EQ(a.size(), 3u);  // and: host "reviews" and subset "reviews+v9" are not defined
  EXPECT_EQ(a[1].code, "IST0101");
  EXPECT_EQ(a[2].code, "IST0101");
}

// The daemon's validation reports the same references as warnings: the
// config still applies.
TEST(Analyze, TheDaemonAppliesAConfigWithAnUndefinedSubset) {
  LoadResult loaded = load_resources({kBookinfo});
  load_yaml_text(R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: x, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v9}
)",
                 "extra.yaml", loaded);
  BuildResult r = build_snapshot(std::move(loaded), 1);
  ASSERT_TRUE(r.snapshot);
  bool found = false;
  for (const Diagnostic& d : r.diagnostics) {
    found = found || (d.to_string() == "extra.yaml:8: warning: VirtualService default/x: "
                                       "spec.http[0].route[0].destination.subset: Referenced host+subset in "
                                       "destinationrule not found: \"reviews+v9\"" &&
                      d.code == "IST0101");
  }
  EXPECT_TRUE(found);
}

}  // namespace
