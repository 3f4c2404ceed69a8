// Tracing on a simulated node (privileged): a pod's request, redirected by
// the kernel to sluiced, carries its W3C context to the application with
// sluice's span as the parent, and a test OTLP receiver on the node's
// loopback (test/tools/otlp_receiver) gets the request span and its attempt
// with the right links; /metrics counts what was exported.
#include <algorithm>
#include <memory>

#include "echo_reply.h"
#include "l7_fixture.h"
#include "otlp_receiver.h"

namespace sluice::test {
namespace {

class TracingTest : public L7Test {};

TEST_F(TracingTest, APodsTraceReachesTheAppAndTheOtlpReceiver) {
  auto receiver = node_->in_node([] { return std::make_unique<OtlpReceiver>(); });
  // 0%: only requests whose client sampled them are traced, so the
  // readiness probes of the fixture export nothing.
  daemon_flags_ = {"--otlp-endpoint", receiver->url(), "--trace-sample-percent", "0"};
  start(bookinfo("---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: default}\n"
                 "spec:\n  hosts: [reviews]\n  http:\n  - match: [{uri: {prefix: /reviews}}]\n"
                 "    route:\n    - destination: {host: reviews, subset: v1}\n"));

  constexpr const char* kTrace = "0af7651916cd43dd8448eb211c80319c";
  constexpr const char* kClientSpan = "b7ad6b7169203331";
  const HttpReply r = get("/reviews/1", "traceparent: 00-" + std::string(kTrace) + "-" + kClientSpan + "-01\r\n");
  ASSERT_EQ(r.status, 200u);
  const std::string tp = echoed_header(r.body, "traceparent");
  ASSERT_EQ(tp.size(), 55u) << r.body;
  EXPECT_EQ(tp.substr(3, 32), kTrace);
  const std::string app_parent = tp.substr(36, 16);
  EXPECT_NE(app_parent, kClientSpan);
  EXPECT_EQ(echoed_header(r.body, "x-b3-traceid"), kTrace);

  std::vector<otlp::Span> spans;
  ASSERT_TRUE(wait_for([&] { return (spans = receiver->spans()).size() >= 2; }, 10s)) << spans.size();
  ASSERT_EQ(spans.size(), 2u);
  const otlp::Span& request = spans[0].parent_span_id() == id_bytes(kClientSpan) ? spans[0] : spans[1];
  const otlp::Span& attempt = &request == &spans[0] ? spans[1] : spans[0];
  EXPECT_EQ(request.trace_id(), id_bytes(kTrace));
  EXPECT_EQ(request.parent_span_id(), id_bytes(kClientSpan));
  EXPECT_EQ(request.name(), "reviews.default.svc.cluster.local:9080/*");
  EXPECT_EQ(span_attribute(request, "upstream_cluster"), "outbound|9080|v1|reviews.default.svc.cluster.local");
  EXPECT_EQ(span_attribute(request, "http.status_code"), "200");
  EXPECT_EQ(span_attribute(request, "node_id"), "sluiced~" + node_->node_ip() + "~unknown");
  EXPECT_EQ(attempt.trace_id(), id_bytes(kTrace));
  EXPECT_EQ(attempt.parent_span_id(), request.span_id());
  EXPECT_EQ(attempt.span_id(), id_bytes(app_parent)) << "the application's parent is the attempt";
  EXPECT_EQ(span_attribute(attempt, "upstream_address"), node_->pod_ip(2) + ":8080");
  // The kernel's RTT of the upstream connection splits the attempt's time
  // into the network's part and the application's.
  const std::string rtt = span_attribute(attempt, "sluice.tcp.rtt_us");
  ASSERT_FALSE(rtt.empty());
  EXPECT_GT(std::stoul(rtt), 0u);
  EXPECT_EQ(span_attribute(attempt, "sluice.tcp.retransmits"), "0");
  const uint64_t attempt_us = (attempt.end_time_unix_nano() - attempt.start_time_unix_nano()) / 1000;
  EXPECT_EQ(std::stoull(span_attribute(attempt, "sluice.network_us")) +
                std::stoull(span_attribute(attempt, "sluice.upstream_app_us")),
            attempt_us);
  // The network's part is the RTT once, twice on a connection dialed for the
  // attempt, never more than the attempt took.
  const uint64_t trips = span_attribute(attempt, "sluice.tcp.new_connection") == "true" ? 2 : 1;
  EXPECT_EQ(std::stoull(span_attribute(attempt, "sluice.network_us")), std::min<uint64_t>(trips * std::stoull(rtt), attempt_us));

  // Requests without a sampled context export nothing more.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(get("/reviews/1").status, 200u);
  std::string metrics;
  EXPECT_TRUE(wait_for([&] {
    auto m = node_->in_node([] { return sluice::http_get("127.0.0.1", kAdminPort, "/metrics", 1000ms); });
    metrics = m.ok() ? m->second : "";
    return metrics.find("sluice_tracing_spans_exported_total 2\n") != std::string::npos;
  }, 5s)) << metrics;
  EXPECT_NE(metrics.find("sluice_tracing_spans_dropped_total 0\n"), std::string::npos);
  EXPECT_EQ(receiver->span_count(), 2u);
  EXPECT_EQ(receiver->bad_posts(), 0u);

  // The router's own answer (no route: 404 NR) is traced too, as Envoy
  // traces it: one span, no attempt.
  constexpr const char* kNrTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
  EXPECT_EQ(get("/other", "traceparent: 00-" + std::string(kNrTrace) + "-" + kClientSpan + "-01\r\n").status, 404u);
  ASSERT_TRUE(wait_for([&] { return receiver->span_count() >= 3; }, 10s)) << receiver->span_count();
  spans = receiver->spans();
  ASSERT_EQ(spans.size(), 3u);
  const otlp::Span& nr = spans[2];
  EXPECT_EQ(nr.trace_id(), id_bytes(kNrTrace));
  EXPECT_EQ(nr.parent_span_id(), id_bytes(kClientSpan));
  EXPECT_EQ(span_attribute(nr, "http.status_code"), "404");
  EXPECT_EQ(span_attribute(nr, "response_flags"), "NR");
  EXPECT_EQ(span_attribute(nr, "upstream_cluster"), "-");
}

}  // namespace
}  // namespace sluice::test
