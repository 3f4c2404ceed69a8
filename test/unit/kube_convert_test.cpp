// API objects (JSON, as the API server sends them) land in the same protobuf
// types as YAML files, through the same conversion: each kind sluiced
// watches, list items without kind/apiVersion, what is trimmed, and bad
// objects rejected with their field.
#include <gtest/gtest.h>

#include "json_view.h"
#include "kube_store.h"
#include "resource_loader.h"
#include "snapshot_builder.h"

using namespace sluice;
using namespace sluice::config;
using sluice::kube::KubeStore;
using sluice::kube::ResourceType;

namespace {

ResourceType type_of(const std::string& kind) {
  for (const ResourceType& t : kube::watched_types()) {
    if (t.kind == kind) return t;
  }
  ADD_FAILURE() << "no type " << kind;
  return {};
}

// The JSON object converted as an item of a list of `kind`.
KubeStore::Object convert(const std::string& kind, const std::string& json, std::string* key_out = nullptr) {
  JsonDocument doc;
  std::string error;
  EXPECT_TRUE(doc.parse(json, &error)) << error;
  std::string key;
  KubeStore::Object o = KubeStore::convert(type_of(kind), doc.root(), key);
  if (key_out) *key_out = key;
  return o;
}

// What an object became, as a set, for assertions by kind.
struct Read {
  ResourceSet resources;
  std::vector<Diagnostic> diagnostics;
};
Read read_object(const std::string& kind, const std::string& json, std::string* key_out = nullptr) {
  KubeStore::Object o = convert(kind, json, key_out);
  Read out;
  out.resources.add(o.resource);
  out.diagnostics = std::move(o.diagnostics);
  return out;
}

size_t type_index(const KubeStore& store, const std::string& kind) {
  for (size_t i = 0; i < store.types().size(); ++i) {
    if (store.types()[i].kind == kind) return i;
  }
  ADD_FAILURE() << "no type " << kind;
  return 0;
}

// Service shop/web and its one EndpointSlice, with one endpoint at ip.
KubeStore::Object web_service() {
  return convert("Service", R"({"metadata":{"name":"web","namespace":"shop"},
    "spec":{"clusterIP":"10.96.0.5","selector":{"app":"web"},"ports":[{"name":"http","port":80,"targetPort":8080}]}})");
}
KubeStore::Object web_slice(const std::string& ip) {
  return convert("EndpointSlice", R"({"metadata":{"name":"web-1","namespace":"shop","labels":{"kubernetes.io/service-name":"web"}},
    "addressType":"IPv4","ports":[{"name":"http","port":8080}],"endpoints":[{"addresses":[")" + ip + R"("]}]})");
}

// The same object as YAML, through the file loader.
ResourceSet from_yaml(const std::string& yaml) {
  LoadResult loaded;
  load_yaml_text(yaml, "x.yaml", loaded);
  EXPECT_TRUE(loaded.diagnostics.empty()) << loaded.diagnostics.front().to_string();
  return loaded.resources;
}

}  // namespace

TEST(KubeConvert, ServiceListItemWithoutKindMatchesTheYamlPath) {
  std::string key;
  auto o = read_object("Service", R"({"metadata":{"name":"reviews","namespace":"bookinfo","uid":"u1",
      "resourceVersion":"42","labels":{"app":"reviews"},
      "annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{...huge...}","sluice.io/socket-redirect":"off"},
      "managedFields":[{"manager":"kubectl","operation":"Apply"}]},
    "spec":{"selector":{"app":"reviews"},"clusterIP":"10.96.0.20","clusterIPs":["10.96.0.20"],
      "ports":[{"name":"http","port":9080,"targetPort":9080,"protocol":"TCP"}],"type":"ClusterIP"},
    "status":{"loadBalancer":{}}})", &key);
  EXPECT_EQ(key, "bookinfo/reviews");
  ASSERT_TRUE(o.diagnostics.empty()) << o.diagnostics.front().to_string();
  ASSERT_EQ(o.resources.services.size(), 1u);
  const auto& svc = *o.resources.services[0];
  EXPECT_EQ(svc.meta.id(), "Service bookinfo/reviews");
  EXPECT_EQ(svc.meta.labels.at("app"), "reviews");
  EXPECT_EQ(svc.meta.kind, "Service") << "the list item's kind comes from its type";
  EXPECT_TRUE(svc.object.kind().empty() && svc.object.api_version().empty()) << "known from meta; not kept";
  EXPECT_EQ(svc.object.spec().cluster_ip(), "10.96.0.20");
  EXPECT_EQ(svc.object.spec().ports(0).port(), 9080);
  EXPECT_EQ(svc.object.spec().ports(0).target_port().number_value(), 9080);
  // Only what sluice reads is kept.
  EXPECT_EQ(svc.object.metadata().annotations().size(), 1u);
  EXPECT_EQ(svc.object.metadata().annotations().at("sluice.io/socket-redirect"), "off");

  const ResourceSet yaml = from_yaml(R"(apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo, labels: {app: reviews}, annotations: {sluice.io/socket-redirect: "off"}}
spec:
  selector: {app: reviews}
  clusterIP: 10.96.0.20
  clusterIPs: [10.96.0.20]
  ports: [{name: http, port: 9080, targetPort: 9080, protocol: TCP}]
  type: ClusterIP
)");
  ASSERT_EQ(yaml.services.size(), 1u);
  EXPECT_EQ(yaml.services[0]->object.spec().SerializeAsString(), svc.object.spec().SerializeAsString());
}

TEST(KubeConvert, EndpointSliceWithUnsetConditionsAndNamedTargetPort) {
  auto o = read_object("EndpointSlice", R"({"metadata":{"name":"reviews-abc","namespace":"bookinfo",
      "labels":{"kubernetes.io/service-name":"reviews"}},"addressType":"IPv4",
    "endpoints":[{"addresses":["10.200.1.5"],"conditions":{"ready":true,"serving":true,"terminating":false},
                  "nodeName":"node-1","targetRef":{"kind":"Pod","name":"reviews-v1-x","namespace":"bookinfo"}},
                 {"addresses":["10.200.1.6"],"conditions":{}}],
    "ports":[{"name":"http","port":9080,"protocol":"TCP"}]})");
  ASSERT_TRUE(o.diagnostics.empty()) << o.diagnostics.front().to_string();
  ASSERT_EQ(o.resources.endpoint_slices.size(), 1u);
  const auto& es = o.resources.endpoint_slices[0]->object;
  ASSERT_EQ(es.endpoints_size(), 2);
  EXPECT_TRUE(es.endpoints(0).conditions().has_ready());
  EXPECT_TRUE(es.endpoints(0).conditions().ready().value());
  EXPECT_FALSE(es.endpoints(1).conditions().has_ready()) << "unset stays unset (read as ready)";
  EXPECT_EQ(es.endpoints(0).target_ref().name(), "reviews-v1-x");
  EXPECT_EQ(es.ports(0).port(), 9080);
}

TEST(KubeConvert, PodKeepsIpsPhaseNodeAndNamedPorts) {
  auto o = read_object("Pod", R"({"metadata":{"name":"ratings-v1-1","namespace":"bookinfo","labels":{"app":"ratings","version":"v1"}},
    "spec":{"nodeName":"node-1","serviceAccountName":"bookinfo-ratings","containers":[{"name":"ratings","image":"x",
      "ports":[{"containerPort":9080,"name":"http"}],"resources":{"limits":{"cpu":"100m"}}}]},
    "status":{"phase":"Running","podIP":"10.200.1.7","podIPs":[{"ip":"10.200.1.7"}],
      "conditions":[{"type":"PodScheduled","status":"True"},{"type":"Ready","status":"True","lastTransitionTime":"2026-01-01T00:00:00Z"}],
      "containerStatuses":[{"name":"ratings","ready":true}]}})");
  ASSERT_TRUE(o.diagnostics.empty()) << o.diagnostics.front().to_string();
  const auto& pod = o.resources.pods.at(0)->object;
  EXPECT_EQ(pod.status().pod_ip(), "10.200.1.7");
  EXPECT_EQ(pod.spec().node_name(), "node-1");
  EXPECT_EQ(pod.spec().service_account_name(), "bookinfo-ratings");
  EXPECT_EQ(pod.status().conditions_size(), 0) << "not read: endpoints go by phase or by their slice";
  // Memory: what sluice does not read is gone (named container ports stay,
  // for targetPort by name).
  EXPECT_FALSE(pod.has_metadata());
  EXPECT_EQ(pod.status().pod_ips_size(), 0) << "the IPv4 one is podIP";
  ASSERT_EQ(pod.spec().containers_size(), 1);
  EXPECT_TRUE(pod.spec().containers(0).image().empty());
  EXPECT_EQ(pod.spec().containers(0).ports(0).name(), "http");
  EXPECT_TRUE(o.resources.pods[0]->meta.created.empty());
}

TEST(KubeConvert, DualStackPodKeepsItsIpv4Address) {
  auto o = read_object("Pod", R"({"metadata":{"name":"p","namespace":"ns"},"spec":{},
    "status":{"phase":"Running","podIP":"fd00::7","podIPs":[{"ip":"fd00::7"},{"ip":"10.200.1.7"}],
      "hostIP":"fd00::1","hostIPs":[{"ip":"fd00::1"},{"ip":"10.0.0.4"}]}})");
  ASSERT_TRUE(o.diagnostics.empty()) << o.diagnostics.front().to_string();
  const auto& status = o.resources.pods.at(0)->object.status();
  EXPECT_EQ(status.pod_ip(), "10.200.1.7");
  EXPECT_EQ(status.host_ip(), "10.0.0.4");
}

TEST(KubeConvert, IstioResourcesAndTheirOrderByAge) {
  auto vs = read_object("VirtualService", R"({"apiVersion":"networking.istio.io/v1","kind":"VirtualService",
    "metadata":{"name":"reviews","namespace":"bookinfo","creationTimestamp":"2026-01-02T00:00:00Z","generation":3},
    "spec":{"hosts":["reviews"],"http":[{"match":[{"headers":{"end-user":{"exact":"jason"}}}],
      "route":[{"destination":{"host":"reviews","subset":"v2"}}],"timeout":"0.5s","retries":{"attempts":3,"perTryTimeout":"2s"}},
      {"route":[{"destination":{"host":"reviews","subset":"v1"},"weight":100}]}]},
    "status":{"observedGeneration":3}})");
  ASSERT_TRUE(vs.diagnostics.empty()) << vs.diagnostics.front().to_string();
  const auto& r = *vs.resources.virtual_services.at(0);
  EXPECT_EQ(r.meta.created, "2026-01-02T00:00:00Z");
  EXPECT_EQ(r.spec.http(0).timeout().nanos(), 500000000);
  EXPECT_EQ(r.spec.http(0).retries().attempts(), 3);
  EXPECT_EQ(r.spec.http(1).route(0).weight(), 100);

  // Istio's order: the older of two rules for a host comes first.
  KubeStore store(kube::watched_types());
  size_t dr = 0;
  for (size_t i = 0; i < store.types().size(); ++i) dr = store.types()[i].kind == "DestinationRule" ? i : dr;
  store.upsert(dr, "a/new", convert("DestinationRule", R"({"metadata":{"name":"new","namespace":"a","creationTimestamp":"2026-02-01T00:00:00Z"},"spec":{"host":"x"}})"));
  store.upsert(dr, "b/old", convert("DestinationRule", R"({"metadata":{"name":"old","namespace":"b","creationTimestamp":"2026-01-01T00:00:00Z"},"spec":{"host":"x"}})"));
  LoadResult loaded = store.load();
  ASSERT_EQ(loaded.resources.destination_rules.size(), 2u);
  EXPECT_EQ(loaded.resources.destination_rules[0]->meta.name, "old");
}

TEST(KubeConvert, BadObjectsNameKindNamespaceNameAndField) {
  auto o = read_object("DestinationRule", R"({"metadata":{"name":"bad","namespace":"ns"},
    "spec":{"host":"x","trafficPolicy":{"connectionPool":{"tcp":{"maxConnections":"many"}}},"bogus":1}})");
  EXPECT_TRUE(o.resources.destination_rules.empty()) << "an invalid resource is not admitted";
  ASSERT_GE(o.diagnostics.size(), 2u);
  std::string all;
  for (const auto& d : o.diagnostics) {
    EXPECT_EQ(d.resource, "DestinationRule ns/bad");
    EXPECT_EQ(d.file, kube::kApiSourceName);
    all += d.to_string() + "\n";
  }
  EXPECT_NE(all.find("spec.trafficPolicy.connectionPool.tcp.maxConnections: expected an integer, got 'many'"), std::string::npos) << all;
  EXPECT_NE(all.find("spec.bogus: unknown field"), std::string::npos) << all;

  // Wrong shapes and types never throw.
  for (const char* json : {R"([])", R"("x")", R"({"metadata":"x"})", R"({"metadata":{"name":7},"spec":[1,2]})",
                           R"({"metadata":{"name":"n"},"spec":{"hosts":{"a":1},"http":[null,{"route":"x"}]}})"}) {
    std::string key;
    auto bad = read_object("VirtualService", json, &key);
    EXPECT_TRUE(bad.resources.virtual_services.empty()) << json;
  }
}

TEST(KubeConvert, NamespacesAreClusterScoped) {
  std::string key;
  auto o = read_object("Namespace", R"({"metadata":{"name":"bookinfo","labels":{"istio-injection":"enabled"}}})", &key);
  EXPECT_EQ(key, "bookinfo");
  ASSERT_EQ(o.resources.namespaces.size(), 1u);
  EXPECT_EQ(o.resources.namespaces[0]->meta.ns, "");
  EXPECT_EQ(o.resources.namespaces[0]->meta.labels.at("istio-injection"), "enabled");
}

TEST(KubeConvert, OnlySecretsThatAGatewayNamesReachTheSnapshot) {
  KubeStore store(kube::watched_types());
  auto index = [&](const std::string& kind) { return type_index(store, kind); };
  store.upsert(index("Secret"), "istio-system/web-cert",
               convert("Secret", R"({"metadata":{"name":"web-cert","namespace":"istio-system"},"type":"kubernetes.io/tls","data":{"tls.crt":"eA==","tls.key":"eQ=="}})"));
  store.upsert(index("Secret"), "istio-system/other",
               convert("Secret", R"({"metadata":{"name":"other","namespace":"istio-system"},"type":"kubernetes.io/tls","data":{}})"));
  EXPECT_TRUE(store.load().resources.secrets.empty());
  store.upsert(index("Gateway"), "istio-system/gw",
               convert("Gateway", R"({"metadata":{"name":"gw","namespace":"istio-system"},"spec":{"selector":{"istio":"ingressgateway"},
                 "servers":[{"port":{"number":443,"name":"https","protocol":"HTTPS"},"hosts":["*"],"tls":{"mode":"SIMPLE","credentialName":"web-cert"}}]}})"));
  LoadResult loaded = store.load();
  ASSERT_EQ(loaded.resources.secrets.size(), 1u);
  EXPECT_EQ(loaded.resources.secrets[0]->meta.name, "web-cert");
}

// This node's Pods are counted as they come, move and go.
TEST(KubeStore, CountsThisNodesPods) {
  KubeStore store(kube::watched_types(), "node-a");
  const size_t pods = type_index(store, "Pod");
  auto pod = [](const std::string& name, const std::string& node) {
    return convert("Pod", R"({"metadata":{"name":")" + name + R"(","namespace":"ns"},"spec":{"nodeName":")" + node +
                              R"("},"status":{"phase":"Running","podIP":"10.200.0.9"}})");
  };
  store.upsert(pods, "ns/a", pod("a", "node-a"));
  store.upsert(pods, "ns/b", pod("b", "node-b"));
  EXPECT_EQ(store.node_pods().pods, 1u);
  store.upsert(pods, "ns/b", pod("b", "node-a"));
  EXPECT_EQ(store.node_pods().pods, 2u);
  store.remove(pods, "ns/a");
  EXPECT_EQ(store.node_pods().pods, 1u);
  KubeStore::Objects relisted;
  relisted["ns/c"] = pod("c", "node-b");
  store.replace(pods, std::move(relisted));
  EXPECT_EQ(store.node_pods().pods, 0u);
  EXPECT_EQ(store.node_pods().node_name, "node-a");
}

// The store hands each reload the change since the last one, and a reload
// of Kubernetes objects alone is patched from it, with the same result as a
// full build.
TEST(KubeStore, ReloadsPatchFromTheStoresDelta) {
  KubeStore store(kube::watched_types());
  auto index = [&](const std::string& kind) { return type_index(store, kind); };
  auto slice = web_slice;
  store.upsert(index("Service"), "shop/web", web_service());
  store.upsert(index("EndpointSlice"), "shop/web-1", slice("10.200.0.1"));
  BuildMemo memo;
  BuildResult first = build_snapshot(store.load(), 1, &memo);
  ASSERT_TRUE(first.snapshot);
  EXPECT_FALSE(first.patched);

  store.upsert(index("EndpointSlice"), "shop/web-1", slice("10.200.0.2"));
  LoadResult second_load = store.load();
  ASSERT_TRUE(second_load.delta);
  EXPECT_EQ(second_load.delta->changes.size(), 1u);
  BuildResult second = build_snapshot(std::move(second_load), 2, &memo);
  ASSERT_TRUE(second.snapshot);
  EXPECT_TRUE(second.patched);
  const Service* web = second.snapshot->find_service("web.shop.svc.cluster.local");
  ASSERT_TRUE(web);
  ASSERT_EQ(web->ports.at(0).endpoints.size(), 1u);
  EXPECT_EQ(web->ports[0].endpoints[0].ip, 0x0AC80002u);

  // An Istio resource changes: a full build.
  store.upsert(index("DestinationRule"), "shop/web", convert("DestinationRule", R"({"metadata":{"name":"web","namespace":"shop"},"spec":{"host":"web"}})"));
  BuildResult third = build_snapshot(store.load(), 3, &memo);
  EXPECT_FALSE(third.patched);
  // A delta on top of a build that did not come from the previous load is
  // not used: two loads, and only the second is built.
  store.upsert(index("EndpointSlice"), "shop/web-1", slice("10.200.0.3"));
  (void)store.load();
  store.upsert(index("EndpointSlice"), "shop/web-1", slice("10.200.0.4"));
  BuildResult fourth = build_snapshot(store.load(), 4, &memo);
  EXPECT_FALSE(fourth.patched);
  EXPECT_EQ(fourth.snapshot->find_service("web.shop.svc.cluster.local")->ports[0].endpoints[0].ip, 0x0AC80004u);
}

// One invalid object in a large cluster must not make every reload a full
// build: its rejection stands in the patched snapshot (the last good version
// in force), and a change to it is judged by a full build again.
TEST(KubeStore, PatchesWhileARejectionStands) {
  KubeStore store(kube::watched_types());
  auto index = [&](const std::string& kind) { return type_index(store, kind); };
  auto slice = web_slice;
  auto vs = [&](const std::string& timeout) {
    return convert("VirtualService", R"({"metadata":{"name":"web","namespace":"shop"},
      "spec":{"hosts":["web"],"http":[{"timeout":")" + timeout + R"(","route":[{"destination":{"host":"web"}}]}]}})");
  };
  store.upsert(index("Service"), "shop/web", web_service());
  store.upsert(index("EndpointSlice"), "shop/web-1", slice("10.200.0.1"));
  store.upsert(index("VirtualService"), "shop/web", vs("3s"));
  BuildMemo memo;
  ASSERT_TRUE(build_snapshot(store.load(), 1, &memo).snapshot->rejections.empty());

  store.upsert(index("VirtualService"), "shop/web", vs("soon"));  // not a duration: rejected
  BuildResult bad = build_snapshot(store.load(), 2, &memo);
  EXPECT_FALSE(bad.patched);
  ASSERT_EQ(bad.snapshot->rejections.size(), 1u) << bad.snapshot->rejections.size();
  ASSERT_EQ(bad.snapshot->resources.virtual_services.size(), 1u);
  EXPECT_EQ(bad.snapshot->resources.virtual_services[0]->spec.http(0).timeout().seconds(), 3) << "the last good version";

  store.upsert(index("EndpointSlice"), "shop/web-1", slice("10.200.0.2"));
  BuildResult moved = build_snapshot(store.load(), 3, &memo);
  EXPECT_TRUE(moved.patched) << "a rejection elsewhere does not force a full build";
  EXPECT_EQ(moved.snapshot->find_service("web.shop.svc.cluster.local")->ports[0].endpoints[0].ip, 0x0AC80002u);
  ASSERT_EQ(moved.snapshot->rejections.size(), 1u) << "the rejection still stands";
  EXPECT_EQ(moved.snapshot->rejections[0].to_string(), bad.snapshot->rejections[0].to_string());
  ASSERT_EQ(moved.snapshot->resources.virtual_services.size(), 1u);
  EXPECT_EQ(moved.snapshot->resources.virtual_services[0]->spec.http(0).timeout().seconds(), 3);

  store.upsert(index("VirtualService"), "shop/web", vs("5s"));  // fixed: a full build takes it
  BuildResult fixed = build_snapshot(store.load(), 4, &memo);
  EXPECT_TRUE(fixed.snapshot->rejections.empty());
  EXPECT_EQ(fixed.snapshot->resources.virtual_services.at(0)->spec.http(0).timeout().seconds(), 5);
  store.upsert(index("EndpointSlice"), "shop/web-1", slice("10.200.0.3"));
  EXPECT_TRUE(build_snapshot(store.load(), 5, &memo).patched);
}
