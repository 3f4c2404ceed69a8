// The datapath's L4 view of a snapshot: kept incrementally, it must equal a
// view built from scratch, VIP clashes included, and reuse unchanged specs.
#include "l4_view.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "service_text.h"
#include "snapshot_builder.h"
#include "temp_dir.h"

using namespace sluice;
using namespace sluice::config;

namespace {

std::string service(const std::string& name, const std::string& vip, int endpoints) {
  std::string s = "---\napiVersion: v1\nkind: Service\nmetadata: {name: " + name +
                  ", namespace: shop}\nspec:\n  clusterIP: " + vip + "\n  ports: [{name: http, port: 80}]\n";
  s += "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\naddressType: IPv4\nmetadata: {name: " + name +
       "-a, namespace: shop, labels: {kubernetes.io/service-name: " + name +
       "}}\nports: [{name: http, port: 8080, protocol: TCP}]\nendpoints:\n";
  for (int i = 1; i <= endpoints; ++i) s += "- addresses: [\"10.200.7." + std::to_string(i) + "\"]\n";
  return s;
}

std::string text(const L4ServiceMap& view) {
  std::ostringstream out;
  for (const auto& [key, spec] : view) out << format_service(*spec) << "\n";
  return out.str();
}

SnapshotPtr build(const std::string& yaml, uint64_t version, BuildMemo& memo) {
  LoadResult loaded;
  load_yaml_text(yaml, "test.yaml", loaded);
  return build_snapshot(std::move(loaded), version, &memo).snapshot;
}

}  // namespace

TEST(L4View, IncrementalEqualsFromScratchThroughClashes) {
  BuildMemo memo;
  L4ViewBuilder builder;
  const std::vector<std::string> steps = {
      service("a", "10.96.3.1", 1) + service("b", "10.96.3.2", 2),
      service("a", "10.96.3.1", 2) + service("b", "10.96.3.2", 2),
      service("a", "10.96.3.1", 2) + service("b", "10.96.3.1", 3),  // b moves onto a's VIP
      service("a", "10.96.3.1", 1) + service("b", "10.96.3.1", 3),
      service("b", "10.96.3.1", 3),                                 // a goes: b takes the VIP
      service("a", "10.96.3.1", 1) + service("b", "10.96.3.1", 3),
      service("a", "10.96.3.1", 1) + service("b", "10.96.3.3", 1),  // clash resolved
  };
  uint64_t version = 1;
  for (const std::string& yaml : steps) {
    SnapshotPtr snap = build(yaml, version, memo);
    ASSERT_TRUE(snap) << "step " << version;
    EXPECT_EQ(text(builder.update(*snap)), text(build_l4_view(*snap))) << "step " << version;
    ++version;
  }
}

TEST(L4View, UnchangedServicesKeepTheirSpecs) {
  sluice::test::TempDir dir{"sluice_l4_view"};
  std::ofstream(dir.path() / "a.yaml") << service("a", "10.96.3.1", 1);
  std::ofstream(dir.path() / "b.yaml") << service("b", "10.96.3.2", 1);
  // Files written within the timestamp slack of a read are read again (see
  // ResourceCache): let these age past it first.
  std::this_thread::sleep_for(std::chrono::nanoseconds(2 * ResourceCache::kTimestampSlackNs));
  ResourceCache cache;
  BuildMemo memo;
  L4ViewBuilder builder;
  SnapshotPtr one = build_snapshot(load_resources({dir.path().string()}, &cache), 1, &memo).snapshot;
  ASSERT_TRUE(one);
  const L4ServiceMap before = builder.update(*one);
  std::ofstream(dir.path() / ".b.tmp") << service("b", "10.96.3.2", 2);
  std::filesystem::rename(dir.path() / ".b.tmp", dir.path() / "b.yaml");
  SnapshotPtr two = build_snapshot(load_resources({dir.path().string()}, &cache), 2, &memo).snapshot;
  ASSERT_TRUE(two);
  const L4ServiceMap& after = builder.update(*two);
  const L4Key a{0x0a600301, 80, 6}, b{0x0a600302, 80, 6};
  ASSERT_TRUE(before.get(a) && after.get(a) && before.get(b) && after.get(b));
  EXPECT_EQ(*before.get(a), *after.get(a)) << "same object: diff_l4 skips it by pointer";
  EXPECT_NE(*before.get(b), *after.get(b));
  EXPECT_EQ((*after.get(b))->backends.size(), 2u);
}

TEST(L4View, DaemonPortsAreL7) {
  BuildMemo memo;
  SnapshotPtr snap = build(service("a", "10.96.3.1", 1), 1, memo);
  ASSERT_TRUE(snap);
  const L4ServiceMap view = build_l4_view(*snap);
  ASSERT_EQ(view.size(), 1u);
  EXPECT_TRUE(view.begin()->second->l7) << "an http port goes to the daemon";
}

// An HTTP port that an ALLOW or DENY policy guards fails closed; the flag
// follows policy changes in the incremental view too.
TEST(L4View, PolicyGuardedHttpPortsFailClosed) {
  BuildMemo memo;
  L4ViewBuilder builder;
  const std::string services = service("a", "10.96.3.1", 1) + service("b", "10.96.3.2", 1);
  const std::string deny_b =
      "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: b, namespace: shop}\n"
      "spec:\n  targetRefs: [{kind: Service, group: \"\", name: b}]\n  action: DENY\n  rules: [{to: [{operation: "
      "{methods: [DELETE]}}]}]\n";
  const std::string audit_all =
      "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: audit, namespace: shop}\n"
      "spec:\n  action: AUDIT\n  rules: [{}]\n";
  auto fail_closed = [](const L4ServiceMap& view) {
    std::string out;
    for (const auto& [key, spec] : view) out += spec->fail_closed ? "x" : "-";
    return out;
  };
  SnapshotPtr snap = build(services, 1, memo);
  ASSERT_TRUE(snap);
  EXPECT_EQ(fail_closed(builder.update(*snap)), "--");
  snap = build(services + deny_b, 2, memo);
  const L4ServiceMap& guarded = builder.update(*snap);
  EXPECT_EQ(text(guarded), text(build_l4_view(*snap)));
  const L4ServiceMap scratch = build_l4_view(*snap);
  ASSERT_TRUE(scratch.get({0x0a600302, 80, 6}));
  EXPECT_TRUE((*scratch.get({0x0a600302, 80, 6}))->fail_closed) << "b is guarded";
  EXPECT_FALSE((*scratch.get({0x0a600301, 80, 6}))->fail_closed) << "a is not";
  snap = build(services + audit_all, 3, memo);
  EXPECT_EQ(fail_closed(builder.update(*snap)), "--") << "AUDIT decides nothing";
}
