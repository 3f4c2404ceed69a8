// A test OTLP/HTTP receiver: accepts POST /v1/traces with an
// application/x-protobuf ExportTraceServiceRequest, parses it with the
// schema in proto/otlp_trace.proto and keeps the spans for the test to read
// (or only counts them, as the benchmark's sink). Loopback only, one
// connection at a time, which is how the exporter talks to it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "otlp_trace.pb.h"

namespace sluice {

// A string attribute of a received span ("<absent>" when it has none).
std::string span_attribute(const otlp::Span& span, std::string_view key);

// Hex (a span or trace id as trace headers write it) as the bytes OTLP
// carries.
std::string id_bytes(std::string_view hex);

class OtlpReceiver {
 public:
  // Listens on 127.0.0.1:`port` (0: any free port). `keep` false: count the
  // spans without keeping them (the benchmark's sink).
  explicit OtlpReceiver(uint16_t port = 0, bool keep = true);
  ~OtlpReceiver();
  OtlpReceiver(const OtlpReceiver&) = delete;
  OtlpReceiver& operator=(const OtlpReceiver&) = delete;

  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1/traces"; }

  // Every span received so far, with its resource's attributes alongside.
  std::vector<otlp::Span> spans() const;
  std::vector<otlp::KeyValue> last_resource() const;
  uint64_t span_count() const { return spans_seen_.load(); }
  uint64_t posts() const { return posts_.load(); }
  uint64_t bad_posts() const { return bad_posts_.load(); }  // wrong method, path, type or body
  // The status to answer with from now on (200 by default).
  void set_status(unsigned status) { status_ = status; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
  bool keep_;
  std::atomic<unsigned> status_{200};
  std::atomic<uint64_t> spans_seen_{0};
  std::atomic<uint64_t> posts_{0};
  std::atomic<uint64_t> bad_posts_{0};
  mutable std::mutex mu_;
  std::vector<otlp::Span> spans_;
  std::vector<otlp::KeyValue> resource_;
  std::thread thread_;

  void take(const std::string& body, bool protobuf);
};

}  // namespace sluice
