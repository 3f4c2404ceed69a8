// The admin API's /routes and /endpoints views and sluicectl's tables of
// them: what a user reads to see how the proxy will route.
#include "mesh_views.h"

#include <gtest/gtest.h>

#include "cli_tables.h"
#include "config_dump.h"
#include "histogram_quantile.h"
#include "memory_datapath_maps.h"
#include "snapshot_builder.h"

namespace sluice {
namespace {

config::SnapshotPtr snapshot() {
  config::LoadResult loaded;
  config::load_yaml_text(R"(apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec: {clusterIP: 10.96.0.20, selector: {app: reviews}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1-1, namespace: default, labels: {app: reviews, version: v1}}
status: {phase: Running, podIP: 10.200.1.4}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v2-1, namespace: default, labels: {app: reviews, version: v2}}
status: {phase: Running, podIP: 10.200.1.5}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    fault: {abort: {httpStatus: 500, percentage: {value: 50}}}
    route: [{destination: {host: reviews, subset: v2}}]
  - timeout: 3s
    route:
    - {destination: {host: reviews, subset: v1}, weight: 80}
    - {destination: {host: reviews, subset: v2}, weight: 20}
)",
                         "t.yaml", loaded);
  config::BuildMemo memo;
  return config::build_snapshot(std::move(loaded), 7, &memo).snapshot;
}

TEST(MeshViews, RoutesAsJsonAndAsATable) {
  const auto snap = snapshot();
  ASSERT_TRUE(snap);
  const std::string json = routes_json(*snap, "reviews");
  EXPECT_NE(json.find(R"("match":[{"headers":{"end-user":{"exact":"jason"}}}])"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("fault":{"abort":{"httpStatus":500,"percentage":{"value":50}}})"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("timeout_ms":3000)"), std::string::npos) << json;
  EXPECT_EQ(routes_json(*snap, "ratings").find("reviews"), std::string::npos);

  auto table = routes_table(json);
  ASSERT_TRUE(table) << table.error().to_string();
  EXPECT_NE(table->find("headers end-user exact jason"), std::string::npos) << *table;
  EXPECT_NE(table->find("reviews.default.svc.cluster.local/v1 80%, reviews.default.svc.cluster.local/v2 20%"),
            std::string::npos)
      << *table;
  EXPECT_NE(table->find("3000ms"), std::string::npos) << *table;
  EXPECT_NE(table->find("fault"), std::string::npos) << *table;
  EXPECT_NE(table->find("default/reviews"), std::string::npos) << *table;
  EXPECT_FALSE(routes_table("{not json"));
}

TEST(MeshViews, ConfigDumpHasTheIstioResourcesAndCountsTheRest) {
  const config::SnapshotPtr snap = snapshot();
  const std::string all = config_dump_json(*snap, "");
  EXPECT_NE(all.find("\"kind\":\"VirtualService\",\"namespace\":\"default\",\"name\":\"reviews\""), std::string::npos)
      << all;
  EXPECT_NE(all.find("\"kind\":\"DestinationRule\""), std::string::npos) << all;
  EXPECT_NE(all.find("\"subsets\":[{\"name\":\"v1\""), std::string::npos) << "specs in Istio's field names: " << all;
  EXPECT_NE(all.find("\"pods\":2"), std::string::npos) << all;
  EXPECT_EQ(all.find("reviews-v1-1"), std::string::npos) << "Kubernetes objects are counted, not dumped";
  const std::string only = config_dump_json(*snap, "DestinationRule");
  EXPECT_EQ(only.find("\"kind\":\"VirtualService\""), std::string::npos) << only;
  EXPECT_NE(only.find("\"kind\":\"DestinationRule\""), std::string::npos) << only;
}

TEST(MeshViews, EndpointsAsJsonAndAsATable) {
  const auto snap = snapshot();
  ASSERT_TRUE(snap);
  MemoryDatapathMaps maps;
  const std::string json = endpoints_json(*snap, maps, "reviews");
  EXPECT_NE(json.find(R"("address":"10.200.1.4:9080","pod":"default/reviews-v1-1","weight":1,"version":"v1")"),
            std::string::npos)
      << json;
  auto table = endpoints_table(json);
  ASSERT_TRUE(table) << table.error().to_string();
  EXPECT_NE(table->find("reviews.default.svc.cluster.local  10.96.0.20  9080"), std::string::npos) << *table;
  EXPECT_NE(table->find("10.200.1.5:9080"), std::string::npos) << *table;
  EXPECT_NE(table->find("proxy"), std::string::npos) << *table;
}

TEST(MeshViews, ConfigStatusForPeople) {
  auto text = config_status_text(
      R"({"version":3,"source":"files: /etc/sluice","reloads":4,"rejected":1,"sync_failures":0,"l4_services":5,)"
      R"("last_sync":{"upserts":1,"removals":0,"reload_ms":2.5,"files_parsed":1},"last_error":null,)"
      R"("errors":["a.yaml:3: VirtualService default/x: spec.http: bad"],"warnings":[]})");
  ASSERT_TRUE(text) << text.error().to_string();
  EXPECT_NE(text->find("config version: 3 (files: /etc/sluice)"), std::string::npos) << *text;
  EXPECT_NE(text->find("rejected resources: 1"), std::string::npos) << *text;
  EXPECT_NE(text->find("error: a.yaml:3: VirtualService default/x: spec.http: bad"), std::string::npos) << *text;
}

TEST(MeshViews, HistogramQuantileAsPrometheusEstimatesIt) {
  const std::vector<double> bounds = {1, 5, 10};
  // 100 in (1,5]: the 99th is 99% of the way through that bucket.
  EXPECT_DOUBLE_EQ(telemetry::histogram_quantile(0.99, bounds, std::vector<uint64_t>{0, 100, 0, 0}), 1 + 4 * 0.99);
  EXPECT_DOUBLE_EQ(telemetry::histogram_quantile(0.5, bounds, std::vector<uint64_t>{10, 0, 0, 0}), 0.5);
  // In the +Inf bucket: the highest bound.
  EXPECT_DOUBLE_EQ(telemetry::histogram_quantile(0.99, bounds, std::vector<uint64_t>{1, 0, 0, 99}), 10);
  EXPECT_DOUBLE_EQ(telemetry::histogram_quantile(0.99, bounds, std::vector<uint64_t>{0, 0, 0, 0}), 0);
}

TEST(MeshViews, TopRatesErrorsAndP99BetweenTwoSamples) {
  const char* before = R"({"bounds_ms":[1,5,10],"services":[)"
                       R"({"service":"a","requests":10,"errors":0,"duration_ms":[10,0,0,0]},)"
                       R"({"service":"b","requests":5,"errors":5,"duration_ms":[5,0,0,0]}]})";
  const char* after = R"({"bounds_ms":[1,5,10],"services":[)"
                      R"({"service":"a","requests":110,"errors":10,"duration_ms":[10,100,0,0]},)"
                      R"({"service":"b","requests":5,"errors":5,"duration_ms":[5,0,0,0]},)"
                      R"({"service":"c","requests":4,"errors":0,"duration_ms":[4,0,0,0]}]})";
  auto t = top_table(before, after, 2.0);
  ASSERT_TRUE(t) << t.error().to_string();
  // a: 100 requests in 2 s, 10 of them errors, all in (1,5] ms. c is new.
  EXPECT_NE(t->find("a        50.0   10.0%   5.0ms  110"), std::string::npos) << *t;
  EXPECT_NE(t->find("c        2.0    0.0%    1.0ms  4"), std::string::npos) << *t;
  EXPECT_NE(t->find("b        0.0    0.0%    -      5"), std::string::npos) << *t;
  EXPECT_LT(t->find("a "), t->find("c ")) << "busiest first";
}

}  // namespace
}  // namespace sluice
