// The OTLP span exporter: proxy workers hand finished spans to a bounded
// queue, and one exporter thread batches them into OTLP/HTTP POSTs
// (otlp_encoder.h, otlp_http_client.h). A worker never waits for the
// network: submit() takes a lock only to append, and a full queue drops
// the span and counts it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "exposition.h"
#include "otlp_encoder.h"
#include "result.h"
#include "span.h"

namespace sluice::telemetry {

struct SpanExporterOptions {
  std::string url;  // http://host:port/v1/traces
  ResourceAttributes resource;
  // Spans waiting for export; more are dropped (counted) until the thread
  // catches up. About 1 kB each, so the queue holds at most a few MB.
  size_t queue_limit = 4096;
  size_t batch_limit = 512;                         // spans per POST
  std::chrono::milliseconds flush_interval{1000};   // a partial batch waits at most this
  std::chrono::milliseconds timeout{5000};          // one POST, connect included
};

class SpanExporter {
 public:
  static Result<std::unique_ptr<SpanExporter>> start(SpanExporterOptions options);
  // Sends what is queued (one more round of POSTs, each under the timeout)
  // and stops the thread.
  ~SpanExporter();
  SpanExporter(const SpanExporter&) = delete;
  SpanExporter& operator=(const SpanExporter&) = delete;

  // Queues a finished span, or drops it when the queue is full.
  void submit(Span&& span);

  uint64_t exported() const { return exported_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  uint64_t failed() const { return failed_.load(std::memory_order_relaxed); }

  // sluice_tracing_spans_{exported,dropped,failed}_total.
  void write_metrics(ExpositionWriter& w) const;

 private:
  explicit SpanExporter(SpanExporterOptions options);
  void run();
  void export_batches(std::vector<Span>& spans);

  const SpanExporterOptions options_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::vector<Span> queue_;  // guarded by mu_
  bool stopping_ = false;    // guarded by mu_
  std::atomic<uint64_t> exported_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> failed_{0};  // spans whose POST failed (not retried)
  std::thread thread_;
};

}  // namespace sluice::telemetry
