// The Prometheus exposition writer (telemetry/exposition.h): label escaping,
// histogram buckets, both formats; and the request metrics' recording and
// merge across workers (telemetry/request_metrics.h).
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <iostream>
#include <thread>

#include "exposition.h"
#include "metric_labels.h"
#include "request_metrics.h"
#include "response_flags.h"
#include "snapshot_builder.h"

namespace sluice::telemetry {
namespace {

TEST(ExpositionTest, EscapesBackslashQuoteAndNewlineInLabelValues) {
  std::string out;
  append_escaped_label_value(out, "a\\b\"c\nd");
  EXPECT_EQ(out, R"(a\\b\"c\nd)");
  EXPECT_EQ(ExpositionWriter::label_text({{"path", "/x\"y"}, {"n", "1\n2"}}), R"(path="/x\"y",n="1\n2")");
}

TEST(ExpositionTest, TextFormatNamesACounterFamilyWithTotal) {
  ExpositionWriter w(ExpositionFormat::kText004);
  w.counter("sluice_things", "Things\\counted\nhere.");
  w.counter_sample("sluice_things", ExpositionWriter::label_text({{"reason", "a"}}), uint64_t{7});
  w.gauge("sluice_level", "A level.");
  w.sample("sluice_level", "", "", 0.25);
  EXPECT_EQ(std::move(w).finish(),
            "# HELP sluice_things_total Things\\\\counted\\nhere.\n"
            "# TYPE sluice_things_total counter\n"
            "sluice_things_total{reason=\"a\"} 7\n"
            "# HELP sluice_level A level.\n"
            "# TYPE sluice_level gauge\n"
            "sluice_level 0.25\n");
}

TEST(ExpositionTest, OpenMetricsNamesTheFamilyBareAndEndsWithEof) {
  ExpositionWriter w(ExpositionFormat::kOpenMetrics);
  w.counter("sluice_things", "Say \"hi\".");
  w.counter_sample("sluice_things", "", uint64_t{3});
  EXPECT_EQ(std::move(w).finish(),
            "# HELP sluice_things Say \\\"hi\\\".\n"
            "# TYPE sluice_things counter\n"
            "sluice_things_total 3\n"
            "# EOF\n");
}

TEST(ExpositionTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  const std::array<double, 3> bounds{0.5, 1, 1000000};
  // Per-bucket counts: <=0.5, <=1, <=1e6, above.
  const std::array<uint64_t, 4> counts{1, 2, 0, 4};
  ExpositionWriter w(ExpositionFormat::kText004);
  w.histogram("h", "H.");
  w.histogram_samples("h", R"(a="b")", bounds, counts, 12.5);
  EXPECT_EQ(std::move(w).finish(),
            "# HELP h H.\n# TYPE h histogram\n"
            "h_bucket{a=\"b\",le=\"0.5\"} 1\n"
            "h_bucket{a=\"b\",le=\"1\"} 3\n"
            "h_bucket{a=\"b\",le=\"1000000\"} 3\n"
            "h_bucket{a=\"b\",le=\"+Inf\"} 7\n"
            "h_sum{a=\"b\"} 12.5\n"
            "h_count{a=\"b\"} 7\n");
  ExpositionWriter om(ExpositionFormat::kOpenMetrics);
  om.histogram_samples("h", "", bounds, counts, 2);
  const std::string text = std::move(om).finish();
  EXPECT_NE(text.find("h_bucket{le=\"1.0\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_bucket{le=\"0.5\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_bucket{le=\"+Inf\"} 7\n"), std::string::npos) << text;
}

TEST(ExpositionTest, AcceptHeaderChoosesTheFormat) {
  EXPECT_EQ(format_for_accept(""), ExpositionFormat::kText004);
  EXPECT_EQ(format_for_accept("text/plain;version=0.0.4;q=0.5,*/*;q=0.1"), ExpositionFormat::kText004);
  EXPECT_EQ(format_for_accept("application/openmetrics-text;version=1.0.0,text/plain;q=0.5"),
            ExpositionFormat::kOpenMetrics);
  EXPECT_EQ(content_type(ExpositionFormat::kText004), "text/plain; version=0.0.4; charset=utf-8");
}

TEST(WorkerHistogramTest, BucketsAreLessThanOrEqual) {
  WorkerHistogram<kEnvoyDefaultBuckets.size()> h(kEnvoyDefaultBuckets);
  for (double v : {0.5, 0.6, 1.0, 3600000.0, 3600001.0}) h.observe(v);
  std::array<uint64_t, kEnvoyDefaultBuckets.size() + 1> counts{};
  h.add_counts(counts);
  EXPECT_EQ(counts[0], 1u);   // le 0.5
  EXPECT_EQ(counts[1], 2u);   // le 1
  EXPECT_EQ(counts[18], 1u);  // le 3600000
  EXPECT_EQ(counts[19], 1u);  // +Inf
  EXPECT_DOUBLE_EQ(h.sum(), 0.5 + 0.6 + 1.0 + 3600000.0 + 3600001.0);
}

TEST(WorkloadNameTest, ADeploymentsPodIsNamedByItsDeployment) {
  config::Labels labels{{"pod-template-hash", "545db77b95"}, {"app", "reviews"}};
  EXPECT_EQ(workload_name("reviews-v1-545db77b95-abcde", labels), "reviews-v1");
  EXPECT_EQ(workload_name("reviews-v1-0", config::Labels{}), "reviews-v1-0");
}

TEST(RequestMetricsTest, WorkersSeriesMergeByLabelsWithIstiosNames) {
  RequestMetrics m;
  WorkloadLabels src;
  src.workload = "productpage-v1";
  src.ns = "default";
  src.app = "productpage";
  src.version = "v1";
  ServiceLabels svc{"reviews.default.svc.cluster.local", "reviews", "default"};
  RequestKey ok{m.workloads().intern(src), 0, m.services().intern(svc), 0, 200};
  RequestKey aborted = ok;
  aborted.response_code = 503;
  aborted.flags = ResponseFlags(ResponseFlag::kFaultInjected).bits();
  RequestMetricsShard& a = m.new_shard();
  RequestMetricsShard& b = m.new_shard();
  std::thread t([&] {
    for (int i = 0; i < 10; ++i) a.record(ok, 2.0, 0, 100);
  });
  for (int i = 0; i < 10; ++i) b.record(ok, 2.0, 0, 100);
  for (int i = 0; i < 3; ++i) b.record(aborted, 0.1, 0, 18);
  t.join();
  ExpositionWriter w(ExpositionFormat::kText004);
  m.write(w);
  const std::string text = std::move(w).finish();
  const std::string labels_ok =
      R"(reporter="source",source_workload="productpage-v1",source_workload_namespace="default",)"
      R"(source_principal="unknown",source_app="productpage",source_version="v1",)"
      R"(source_canonical_service="unknown",source_canonical_revision="latest",source_cluster="Kubernetes",)"
      R"(destination_workload="unknown",destination_workload_namespace="unknown",destination_principal="unknown",)"
      R"(destination_app="unknown",destination_version="unknown",destination_canonical_service="unknown",)"
      R"(destination_canonical_revision="latest",destination_cluster="Kubernetes",)"
      R"(destination_service="reviews.default.svc.cluster.local",destination_service_name="reviews",)"
      R"(destination_service_namespace="default",request_protocol="http",response_code="200",)"
      R"(response_flags="-",connection_security_policy="unknown")";
  EXPECT_NE(text.find("# TYPE istio_requests_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("istio_requests_total{" + labels_ok + "} 20\n"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(response_code="503",response_flags="FI",connection_security_policy="unknown"} 3)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("istio_request_duration_milliseconds_bucket{" + labels_ok + ",le=\"1\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("istio_request_duration_milliseconds_bucket{" + labels_ok + ",le=\"5\"} 20\n"),
            std::string::npos);
  EXPECT_NE(text.find("istio_request_duration_milliseconds_sum{" + labels_ok + "} 40\n"), std::string::npos);
  EXPECT_NE(text.find("istio_response_bytes_bucket{" + labels_ok + ",le=\"100\"} 20\n"), std::string::npos);
  EXPECT_NE(text.find("istio_request_bytes_count{" + labels_ok + "} 20\n"), std::string::npos);
  EXPECT_EQ(m.dropped(), 0u);
}

}  // namespace
}  // namespace sluice::telemetry

namespace sluice::telemetry {
namespace {

// The issue's budget: one scrape of 10k series in under 50 ms. A series is
// a Prometheus time series, one sample line: each label set of Istio's four
// families makes 67 of them (the counter, and three histograms of 19
// buckets, +Inf, _sum and _count), so 150 label sets are 10050 series.
// The time is printed, not asserted (no timing assertions in tests: the
// machine is shared); bench/ is where speed is judged.
TEST(RequestMetricsTest, TenThousandSeriesRenderQuickly) {
  RequestMetrics m;
  RequestMetricsShard& shard = m.new_shard();
  constexpr uint32_t kLabelSets = 150;
  for (uint32_t i = 0; i < kLabelSets; ++i) {
    WorkloadLabels w;
    w.workload = "client-" + std::to_string(i % 50);
    w.ns = "ns-" + std::to_string(i % 7);
    RequestKey k{m.workloads().intern(w), 0, 0, 0, static_cast<uint16_t>(200 + i / 50)};
    shard.record(k, 1.5, 10, 1000);
  }
  const auto start = std::chrono::steady_clock::now();
  ExpositionWriter w(ExpositionFormat::kText004);
  m.write(w);
  const std::string text = std::move(w).finish();
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  size_t samples = 0;
  for (char c : text) samples += c == '\n';
  samples -= 8;  // HELP and TYPE of the four families
  EXPECT_EQ(samples, kLabelSets * 67);
  std::cout << samples << " series: " << ms << " ms, " << text.size() / 1024 << " KiB\n";
  EXPECT_EQ(m.dropped(), 0u);
}

// Series of deleted workloads expire: hidden after a whole pass without a
// request once their workload is gone, shown again by a request, and their
// memory reused when a worker's table fills.
TEST(RequestMetricsTest, SeriesOfDeletedWorkloadsExpire) {
  RequestMetrics m;
  RequestMetricsShard& shard = m.new_shard();
  WorkloadLabels kept, deleted;
  kept.workload = "kept";
  deleted.workload = "deleted";
  const RequestKey a{m.workloads().intern(kept), 0, 0, 0, 200};
  const RequestKey b{m.workloads().intern(deleted), 0, 0, 0, 200};
  shard.record(a, 1, 0, 0);
  for (int i = 0; i < 5; ++i) shard.record(b, 1, 0, 0);
  const RequestMetrics::Liveness live{.workload = [](const WorkloadLabels& w) { return w.workload != "deleted"; },
                                      .service = [](const ServiceLabels&) { return true; }};
  auto shown = [&] {
    ExpositionWriter w(ExpositionFormat::kText004);
    m.write(w);
    const std::string text = std::move(w).finish();
    return std::pair{text.find(R"(source_workload="kept")") != std::string::npos,
                     text.find(R"(source_workload="deleted")") != std::string::npos};
  };
  EXPECT_EQ(m.expire(live), 0u) << "requests since the last pass (there was none): not yet";
  EXPECT_EQ(shown(), std::pair(true, true));
  EXPECT_EQ(m.expire(live), 1u) << "a whole pass without a request, and its workload gone";
  EXPECT_EQ(shown(), std::pair(true, false));
  EXPECT_EQ(m.totals_by_edge().size(), 1u) << "the graph and sluicectl top forget it too";

  shard.record(b, 1, 0, 0);  // the workload is back under the same labels
  EXPECT_EQ(shown(), std::pair(true, true));
  EXPECT_EQ(m.expire(live), 0u) << "it took a request this pass";
  EXPECT_EQ(m.expire(live), 1u);

  // Fill the worker's table with series of the deleted workload: the next
  // new series fits only by compaction, which drops the expired ones and
  // keeps the live series' counts.
  const size_t cap = RequestMetricsShard::kChunk * RequestMetricsShard::kMaxChunks;
  for (uint32_t i = 1; i <= cap; ++i) shard.record({b.source, 0, 0, i, 200}, 1, 0, 0);  // flags make each new
  EXPECT_GT(m.dropped(), 0u) << "full, and nothing expired yet";
  m.expire(live);
  EXPECT_GT(m.expire(live), cap / 2);
  const uint64_t compactions = shard.compactions();  // one already: the fill made room by dropping b's first series
  const RequestKey fresh{a.source, 0, 0, 0, 404};
  shard.record(fresh, 1, 0, 0);
  EXPECT_EQ(shard.compactions(), compactions + 1);
  shard.record(a, 1, 0, 0);
  ExpositionWriter w(ExpositionFormat::kText004);
  m.write(w);
  const std::string text = std::move(w).finish();
  EXPECT_NE(text.find(R"(source_workload="kept")"), std::string::npos);
  EXPECT_NE(text.find(R"(response_code="200",response_flags="-",connection_security_policy="unknown"} 2)"),
            std::string::npos)
      << "the kept series moved with its count";
  EXPECT_NE(text.find(R"(response_code="404")"), std::string::npos) << "the new series was recorded";
}

// The daemon's pass: live means a pod of the snapshot has the workload's
// labels, a service of the snapshot its name.
TEST(RequestMetricsTest, TheSnapshotSaysWhatIsDeleted) {
  config::LoadResult loaded;
  config::load_yaml_text(R"(apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec: {clusterIP: 10.96.0.20, selector: {app: reviews}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1-5d8f7c-abcde, namespace: default, labels: {app: reviews, version: v1, pod-template-hash: 5d8f7c}}
status: {phase: Running, podIP: 10.200.1.1}
)",
                         "t.yaml", loaded);
  config::BuildMemo memo;
  const auto snap = config::build_snapshot(std::move(loaded), 1, &memo).snapshot;
  ASSERT_TRUE(snap);
  RequestMetrics m;
  RequestMetricsShard& shard = m.new_shard();
  const uint32_t live_pod = m.workloads().intern(workload_labels(*snap->resources.pods.at(0)));
  WorkloadLabels old_version = workload_labels(*snap->resources.pods.at(0));
  old_version.workload = "reviews-v0";
  const uint32_t gone_pod = m.workloads().intern(old_version);
  const uint32_t live_svc = m.services().intern({"reviews.default.svc.cluster.local", "reviews", "default"});
  const uint32_t gone_svc = m.services().intern({"ratings.default.svc.cluster.local", "ratings", "default"});
  shard.record({0, live_pod, live_svc, 0, 200}, 1, 0, 0);
  shard.record({0, gone_pod, live_svc, 0, 200}, 1, 0, 0);
  shard.record({0, live_pod, gone_svc, 0, 200}, 1, 0, 0);
  shard.record({0, 0, live_svc, 0, 503}, 1, 0, 0);  // unknown is never deleted
  EXPECT_EQ(expire_deleted(m, *snap), 0u);
  EXPECT_EQ(expire_deleted(m, *snap), 2u) << "the old version's series and the deleted service's";
}

}  // namespace
}  // namespace sluice::telemetry
