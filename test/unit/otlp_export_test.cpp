// The OTLP encoding (telemetry/otlp_encoder.h) read back with the schema,
// and the exporter (telemetry/span_exporter.h) against the test receiver
// (test/tools/otlp_receiver): batches arrive whole, a full queue drops and
// counts, a receiver's error counts as failed.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "otlp_encoder.h"
#include "otlp_receiver.h"
#include "otlp_trace.pb.h"
#include "span_exporter.h"

namespace sluice::telemetry {
namespace {

using namespace std::chrono_literals;

Span sample_span(uint64_t id) {
  Span s;
  s.trace_id = {0x0102030405060708ULL, 0x090a0b0c0d0e0f10ULL};
  s.span_id = id;
  s.parent_span_id = 0x1112131415161718ULL;
  s.trace_state = "rojo=1";
  s.name = "web.default.svc.cluster.local:80/*";
  s.start_unix_ns = 1'700'000'000'000'000'000ULL;
  s.end_unix_ns = 1'700'000'000'001'000'000ULL;
  s.error = true;
  s.set("http.status_code", "503");
  s.set("response_flags", "UF");
  return s;
}

TEST(OtlpEncoderTest, RoundTripsThroughTheSchema) {
  const std::vector<Span> spans = {sample_span(0x2122232425262728ULL)};
  const std::string body = encode_otlp_request(spans, {{"service.name", "sluiced"}});
  otlp::ExportTraceServiceRequest req;
  ASSERT_TRUE(req.ParseFromString(body));
  ASSERT_EQ(req.resource_spans_size(), 1);
  const auto& rs = req.resource_spans(0);
  ASSERT_EQ(rs.resource().attributes_size(), 1);
  EXPECT_EQ(rs.resource().attributes(0).key(), "service.name");
  EXPECT_EQ(rs.resource().attributes(0).value().string_value(), "sluiced");
  ASSERT_EQ(rs.scope_spans_size(), 1);
  EXPECT_EQ(rs.scope_spans(0).scope().name(), "sluice");
  ASSERT_EQ(rs.scope_spans(0).spans_size(), 1);
  const otlp::Span& s = rs.scope_spans(0).spans(0);
  // Ids are the bytes of their hex, in order (big-endian).
  EXPECT_EQ(s.trace_id(), std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10", 16));
  EXPECT_EQ(s.span_id(), std::string("\x21\x22\x23\x24\x25\x26\x27\x28", 8));
  EXPECT_EQ(s.parent_span_id(), std::string("\x11\x12\x13\x14\x15\x16\x17\x18", 8));
  EXPECT_EQ(s.trace_state(), "rojo=1");
  EXPECT_EQ(s.flags(), 1u);
  EXPECT_EQ(s.name(), "web.default.svc.cluster.local:80/*");
  EXPECT_EQ(s.kind(), otlp::Span::SPAN_KIND_CLIENT);
  EXPECT_EQ(s.start_time_unix_nano(), 1'700'000'000'000'000'000ULL);
  EXPECT_EQ(s.end_time_unix_nano(), 1'700'000'000'001'000'000ULL);
  EXPECT_EQ(s.status().code(), otlp::Status::STATUS_CODE_ERROR);
  ASSERT_EQ(s.attributes_size(), 2);
  EXPECT_EQ(s.attributes(1).key(), "response_flags");
  EXPECT_EQ(s.attributes(1).value().string_value(), "UF");
}

TEST(OtlpEncoderTest, ARootSpanHasNoParentAndFieldNumbersAreOtlps) {
  Span root = sample_span(7);
  root.parent_span_id = 0;
  root.error = false;
  const std::string body = encode_otlp_request(std::vector<Span>{root}, {});
  otlp::ExportTraceServiceRequest req;
  ASSERT_TRUE(req.ParseFromString(body));
  const otlp::Span& s = req.resource_spans(0).scope_spans(0).spans(0);
  EXPECT_TRUE(s.parent_span_id().empty());
  EXPECT_FALSE(s.has_status());
  // The wire tags the OTLP schema fixes: resource_spans 1 (0x0a), and in a
  // span trace_id 1 (0x0a), span_id 2 (0x12), kind 6 (0x30), the fixed64
  // times 7 and 8 (0x39, 0x41) and the fixed32 flags 16 (0x85 0x01).
  const std::string span_bytes = s.SerializeAsString();
  EXPECT_EQ(static_cast<uint8_t>(body[0]), 0x0a);
  EXPECT_EQ(static_cast<uint8_t>(span_bytes[0]), 0x0a);
  EXPECT_NE(span_bytes.find(std::string("\x12\x08", 2)), std::string::npos);
  EXPECT_NE(span_bytes.find(std::string("\x30\x03", 2)), std::string::npos);
  EXPECT_NE(span_bytes.find('\x39'), std::string::npos);
  EXPECT_NE(span_bytes.find('\x41'), std::string::npos);
  EXPECT_NE(span_bytes.find(std::string("\x85\x01\x01\x00\x00\x00", 6)), std::string::npos);
}

// A span's service names its resource (as an Istio sidecar names its
// spans by its workload); spans without one keep the exporter's.
TEST(OtlpEncoderTest, SpansAreGroupedByTheirService) {
  std::vector<Span> spans = {sample_span(1), sample_span(2), sample_span(3)};
  spans[0].service = "productpage.default";
  spans[2].service = "productpage.default";
  const std::string body = encode_otlp_request(spans, {{"service.name", "sluiced"}, {"node_id", "n"}});
  otlp::ExportTraceServiceRequest req;
  ASSERT_TRUE(req.ParseFromString(body));
  ASSERT_EQ(req.resource_spans_size(), 2);
  auto service_of = [](const otlp::ResourceSpans& rs) {
    std::string name;
    for (const auto& kv : rs.resource().attributes()) {
      if (kv.key() == "service.name") name += kv.value().string_value();
    }
    return name;
  };
  EXPECT_EQ(service_of(req.resource_spans(0)), "productpage.default");
  EXPECT_EQ(req.resource_spans(0).scope_spans(0).spans_size(), 2);
  EXPECT_EQ(req.resource_spans(0).resource().attributes_size(), 2) << "node_id kept, service.name replaced";
  EXPECT_EQ(service_of(req.resource_spans(1)), "sluiced");
  EXPECT_EQ(req.resource_spans(1).scope_spans(0).spans_size(), 1);
}

template <class F>
bool eventually(F f, std::chrono::milliseconds within = 10s) {
  const auto until = std::chrono::steady_clock::now() + within;
  while (!f()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

TEST(SpanExporterTest, BatchesReachTheReceiverWhole) {
  OtlpReceiver receiver;
  SpanExporterOptions o;
  o.url = receiver.url();
  o.resource = {{"service.name", "sluiced"}};
  o.batch_limit = 4;
  o.flush_interval = 50ms;
  auto exporter = SpanExporter::start(o);
  ASSERT_TRUE(exporter.ok()) << exporter.error().to_string();
  for (uint64_t i = 1; i <= 10; ++i) (*exporter)->submit(sample_span(i));
  EXPECT_TRUE(eventually([&] { return (*exporter)->exported() == 10; }));
  EXPECT_EQ(receiver.span_count(), 10u);
  EXPECT_GE(receiver.posts(), 3u) << "10 spans in batches of at most 4";
  EXPECT_EQ(receiver.bad_posts(), 0u) << "POST /v1/traces, application/x-protobuf, a body that parses";
  EXPECT_EQ((*exporter)->dropped(), 0u);
  ASSERT_EQ(receiver.last_resource().size(), 1u);
  EXPECT_EQ(receiver.last_resource()[0].value().string_value(), "sluiced");
}

TEST(SpanExporterTest, AFullQueueDropsAndCounts) {
  // A queue of 3 and a flush interval longer than the test: the first 3
  // spans wait, the other 7 are dropped at once.
  OtlpReceiver receiver;
  SpanExporterOptions o;
  o.url = receiver.url();
  o.queue_limit = 3;
  o.batch_limit = 100;
  o.flush_interval = 60s;
  auto exporter = SpanExporter::start(o);
  ASSERT_TRUE(exporter.ok());
  for (uint64_t i = 1; i <= 10; ++i) (*exporter)->submit(sample_span(i));
  EXPECT_EQ((*exporter)->dropped(), 7u);
  exporter->reset();  // stopping sends what was queued
  EXPECT_EQ(receiver.span_count(), 3u);
}

TEST(SpanExporterTest, AReceiverErrorCountsTheBatchAsFailed) {
  OtlpReceiver receiver;
  receiver.set_status(503);
  SpanExporterOptions o;
  o.url = receiver.url();
  o.flush_interval = 20ms;
  auto exporter = SpanExporter::start(o);
  ASSERT_TRUE(exporter.ok());
  (*exporter)->submit(sample_span(1));
  (*exporter)->submit(sample_span(2));
  EXPECT_TRUE(eventually([&] { return (*exporter)->failed() == 2; }));
  EXPECT_EQ((*exporter)->exported(), 0u);
  ExpositionWriter w(ExpositionFormat::kText004);
  (*exporter)->write_metrics(w);
  const std::string text = std::move(w).finish();
  EXPECT_NE(text.find("sluice_tracing_spans_failed_total 2"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_tracing_spans_dropped_total 0"), std::string::npos) << text;
}

TEST(SpanExporterTest, OnlyHttpUrlsAreAccepted) {
  EXPECT_FALSE(SpanExporter::start({.url = "https://collector:4318/v1/traces"}).ok());
  EXPECT_FALSE(SpanExporter::start({.url = "http://:4318/v1/traces"}).ok());
  EXPECT_FALSE(SpanExporter::start({.url = "http://collector:43x8/v1/traces"}).ok());
}

}  // namespace
}  // namespace sluice::telemetry
