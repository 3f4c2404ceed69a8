// Which endpoints get a copy of a request (RequestRouter::mirror_endpoints):
// mirror and mirrors, each with its percentage, and whether the mirror's
// service lets its connections use the sockhash fast path (the proxy marks
// the mirror's socket from that).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "request_router.h"
#include "snapshot_builder.h"

namespace sluice::proxy {
namespace {

class NoHeaders : public HeaderSource {
 public:
  std::optional<std::string_view> header(std::string_view) const override { return std::nullopt; }
};

// web (10.96.0.50:80, pod 10.200.1.1) mirrors to shadow (pod 10.200.1.2),
// whose Service opts out of socket redirection, and to audit (10.200.1.3).
config::SnapshotPtr snapshot_with(const std::string& mirrors) {
  const std::string yaml = R"(apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {clusterIP: 10.96.0.50, selector: {app: web}, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: shadow, namespace: default, annotations: {sluice.io/socket-redirect: "off"}}
spec: {clusterIP: 10.96.0.51, selector: {app: shadow}, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: audit, namespace: default}
spec: {clusterIP: 10.96.0.52, selector: {app: audit}, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: default, labels: {app: web}}
status: {phase: Running, podIP: 10.200.1.1}
---
apiVersion: v1
kind: Pod
metadata: {name: shadow-1, namespace: default, labels: {app: shadow}}
status: {phase: Running, podIP: 10.200.1.2}
---
apiVersion: v1
kind: Pod
metadata: {name: audit-1, namespace: default, labels: {app: audit}}
status: {phase: Running, podIP: 10.200.1.3}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web]
  http:
  - route: [{destination: {host: web}}]
)" + mirrors;
  config::LoadResult loaded;
  config::load_yaml_text(yaml, "mirror.yaml", loaded);
  config::BuildResult r = config::build_snapshot(std::move(loaded), 1);
  EXPECT_TRUE(r.snapshot) << (r.diagnostics.empty() ? "" : r.diagnostics.front().to_string());
  return r.snapshot;
}

std::vector<MirrorTarget> mirrors_of(const config::SnapshotPtr& snap) {
  RequestRouter router(std::make_shared<ClusterRegistry>());
  OriginalDestination dst;
  dst.vip = (10u << 24) | (96u << 16) | 50;
  dst.port = 80;
  dst.proto = 6;
  NoHeaders headers;
  RequestAttrs attrs;
  attrs.method = "GET";
  attrs.path = "/";
  attrs.authority = "web";
  attrs.scheme = "http";
  attrs.port = 80;
  attrs.headers = &headers;
  RouteDecision d = router.decide(snap, dst, attrs, (10u << 24) | (200u << 16) | (2u << 8) | 1);
  EXPECT_TRUE(d.endpoint);
  return router.mirror_endpoints(d, dst.port);
}

constexpr uint32_t kShadow = (10u << 24) | (200u << 16) | (1u << 8) | 2;
constexpr uint32_t kAudit = (10u << 24) | (200u << 16) | (1u << 8) | 3;

TEST(MirrorEndpoints, EachMirrorCarriesItsServicesRedirectSetting) {
  auto snap = snapshot_with("    mirrors:\n    - destination: {host: shadow}\n    - destination: {host: audit}\n");
  ASSERT_TRUE(snap);
  const auto m = mirrors_of(snap);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].endpoint->ip, kShadow);
  EXPECT_FALSE(m[0].socket_redirect) << "shadow's Service opted out";
  EXPECT_EQ(m[1].endpoint->ip, kAudit);
  EXPECT_TRUE(m[1].socket_redirect);
}

TEST(MirrorEndpoints, PercentagesDecideWhoGetsACopy) {
  auto snap = snapshot_with("    mirror: {host: shadow}\n    mirrorPercentage: {value: 0}\n");
  ASSERT_TRUE(snap);
  EXPECT_TRUE(mirrors_of(snap).empty()) << "0% never mirrors";
  snap = snapshot_with("    mirrors:\n    - destination: {host: shadow}\n      percentage: {value: 100}\n"
                       "    - destination: {host: audit}\n      percentage: {value: 0}\n");
  ASSERT_TRUE(snap);
  const auto m = mirrors_of(snap);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].endpoint->ip, kShadow);
}

}  // namespace
}  // namespace sluice::proxy
