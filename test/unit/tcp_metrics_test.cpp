// istio_tcp_* from the kernel's edge counters: Istio's labels from the
// snapshot, edges with one label set added up, Istio's byte directions. And
// sluice_tcp_rtt_seconds from its per-service RTT buckets, with sockops' bucket
// function (bpf/include/tcp_rtt.h) compiled in to hold the bounds equal.
#include "tcp_metrics.h"

#include <gtest/gtest.h>

#include "consts.h"
#include "tcp_rtt.h"

#include "snapshot_builder.h"

namespace sluice::telemetry {
namespace {

using config::BuildMemo;
using config::LoadResult;

config::SnapshotPtr snapshot() {
  LoadResult loaded;
  config::load_yaml_text(R"(apiVersion: v1
kind: Service
metadata: {name: mongodb, namespace: db}
spec: {clusterIP: 10.96.0.30, selector: {app: mongodb}, ports: [{name: tcp-mongo, port: 27017}]}
---
apiVersion: v1
kind: Pod
metadata: {name: ratings-v2-7d4f9c-abcde, namespace: default, labels: {app: ratings, version: v2, pod-template-hash: 7d4f9c}}
status: {phase: Running, podIP: 10.200.1.1}
---
apiVersion: v1
kind: Pod
metadata: {name: ratings-v2-7d4f9c-fghij, namespace: default, labels: {app: ratings, version: v2, pod-template-hash: 7d4f9c}}
status: {phase: Running, podIP: 10.200.1.2}
---
apiVersion: v1
kind: Pod
metadata: {name: mongodb-0, namespace: db, labels: {app: mongodb, version: v1}}
status: {phase: Running, podIP: 10.200.1.9}
)",
                         "t.yaml", loaded);
  BuildMemo memo;
  return config::build_snapshot(std::move(loaded), 1, &memo).snapshot;
}

TEST(TcpMetrics, EdgesGetIstiosLabelsAndOneWorkloadAddsUp) {
  const auto snap = snapshot();
  ASSERT_TRUE(snap);
  const std::vector<TcpEdge> edges = {
      // Two pods of one Deployment to the same backend.
      {.src_ip = 0x0ac80101, .dst_ip = 0x0ac80109, .vip = 0x0a60001e, .port = 27017, .opened = 2, .closed = 1,
       .bytes_to_backend = 100, .bytes_from_backend = 1000},
      {.src_ip = 0x0ac80102, .dst_ip = 0x0ac80109, .vip = 0x0a60001e, .port = 27017, .opened = 1, .closed = 1,
       .bytes_to_backend = 10, .bytes_from_backend = 5},
      // A service that is gone: named by its address.
      {.src_ip = 0x0ac80101, .dst_ip = 0x0ac80108, .vip = 0x0a600063, .port = 80, .opened = 1},
  };
  ExpositionWriter w(ExpositionFormat::kText004);
  write_tcp_metrics(w, edges, *snap);
  const std::string text = std::move(w).finish();
  const std::string labels =
      R"({reporter="source",source_workload="ratings-v2",source_workload_namespace="default",source_principal="unknown",)"
      R"(source_app="ratings",source_version="v2",source_canonical_service="ratings",source_canonical_revision="v2",)"
      R"(source_cluster="Kubernetes",destination_workload="mongodb-0",destination_workload_namespace="db",)"
      R"(destination_principal="unknown",destination_app="mongodb",destination_version="v1",)"
      R"(destination_canonical_service="mongodb",destination_canonical_revision="v1",destination_cluster="Kubernetes",)"
      R"(destination_service="mongodb.db.svc.cluster.local",destination_service_name="mongodb",)"
      R"(destination_service_namespace="db",request_protocol="tcp",response_flags="-",)"
      R"(connection_security_policy="unknown"})";
  EXPECT_NE(text.find("istio_tcp_connections_opened_total" + labels + " 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("istio_tcp_connections_closed_total" + labels + " 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("istio_tcp_received_bytes_total" + labels + " 110\n"), std::string::npos) << text;
  EXPECT_NE(text.find("istio_tcp_sent_bytes_total" + labels + " 1005\n"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(destination_service="10.96.0.99:80",destination_service_name="unknown")"), std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE istio_tcp_connections_opened_total counter\n"), std::string::npos) << text;
}

TEST(TcpRtt, TheKernelsBucketsAreTheBoundsSluicedPrints) {
  const uint32_t kernel_bounds[] = {TCP_RTT_BOUNDS_US};
  ASSERT_EQ(std::size(kernel_bounds), kTcpRttBoundsUs.size());
  ASSERT_EQ(kTcpRttBoundsUs.size() + 1, size_t{SL_RTT_BUCKETS});
  for (size_t i = 0; i < kTcpRttBoundsUs.size(); ++i) {
    EXPECT_EQ(kernel_bounds[i], kTcpRttBoundsUs[i]);
    EXPECT_EQ(tcp_rtt_bucket(kTcpRttBoundsUs[i]), i) << "a bound is inclusive, as Prometheus' le";
    EXPECT_EQ(tcp_rtt_bucket(kTcpRttBoundsUs[i] + 1), i + 1);
  }
  EXPECT_EQ(tcp_rtt_bucket(0), 0u);
  EXPECT_EQ(tcp_rtt_bucket(UINT32_MAX), kTcpRttBoundsUs.size());
  EXPECT_EQ(tcp_rtt_us(8 * 120), 120u) << "srtt_us is in eighths of a microsecond";
}

TEST(TcpRtt, ServicesGetAHistogramInSecondsAndRetransmitCounters) {
  const auto snap = snapshot();
  ASSERT_TRUE(snap);
  ServiceRtt mongo{.vip = 0x0a60001e, .port = 27017, .rtt_us_sum = 60 + 80 + 3000, .retransmits = 4, .retransmitting = 1};
  mongo.buckets[2] = 2;  // 60 and 80 us: (50, 100]
  mongo.buckets[7] = 1;  // 3 ms: (2000, 5000]
  const ServiceRtt gone{.vip = 0x0a600063, .port = 80};
  ExpositionWriter w(ExpositionFormat::kText004);
  write_tcp_rtt_metrics(w, {mongo, gone}, *snap);
  const std::string text = std::move(w).finish();
  const std::string labels =
      R"(destination_service="mongodb.db.svc.cluster.local",destination_service_name="mongodb",)"
      R"(destination_service_namespace="db")";
  EXPECT_NE(text.find("# TYPE sluice_tcp_rtt_seconds histogram\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_tcp_rtt_seconds_bucket{" + labels + R"(,le="5e-05"} 0)" + "\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("sluice_tcp_rtt_seconds_bucket{" + labels + R"(,le="1e-04"} 2)" + "\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("sluice_tcp_rtt_seconds_bucket{" + labels + R"(,le="0.005"} 3)" + "\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("sluice_tcp_rtt_seconds_sum{" + labels + "} 0.00314\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_tcp_rtt_seconds_count{" + labels + "} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_tcp_retransmitted_segments_total{" + labels + "} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_tcp_retransmitting_connections_total{" + labels + "} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(destination_service="10.96.0.99:80")"), std::string::npos) << "a service gone since: its address";

  const auto median = median_rtt_ms_by_service({mongo, gone}, *snap);
  ASSERT_EQ(median.size(), 1u) << "a service without a sample has no median";
  EXPECT_NEAR(median.at("mongodb.db.svc.cluster.local"), 0.0875, 1e-9) << "rank 1.5 of 3, in (0.05, 0.1]";
}

}  // namespace
}  // namespace sluice::telemetry
