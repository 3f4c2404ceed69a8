#include "span_exporter.h"

#include <spdlog/spdlog.h>

#include <span>

#include "otlp_http_client.h"

namespace sluice::telemetry {

Result<std::unique_ptr<SpanExporter>> SpanExporter::start(SpanExporterOptions options) {
  if (auto url = parse_http_url(options.url); !url) return url.error();
  std::unique_ptr<SpanExporter> e(new SpanExporter(std::move(options)));
  e->thread_ = std::thread([raw = e.get()] { raw->run(); });
  return e;
}

SpanExporter::SpanExporter(SpanExporterOptions options) : options_(std::move(options)) {
  queue_.reserve(options_.batch_limit);
}

SpanExporter::~SpanExporter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void SpanExporter::submit(Span&& span) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= options_.queue_limit) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    queue_.push_back(std::move(span));
    wake = queue_.size() == options_.batch_limit;
  }
  if (wake) wake_.notify_one();
}

// Waits for a full batch or the flush interval, takes the whole queue in
// one swap (so workers wait for the lock only as long as a swap takes),
// and POSTs it in batches outside the lock. On stop, a last round sends
// what is left.
void SpanExporter::run() {
  OtlpHttpClient client(*parse_http_url(options_.url), options_.timeout);
  std::vector<Span> taken;
  for (;;) {
    bool last = false;
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, options_.flush_interval,
                     [&] { return stopping_ || queue_.size() >= options_.batch_limit; });
      last = stopping_;
      taken.swap(queue_);
      queue_.clear();
      queue_.reserve(options_.batch_limit);
    }
    for (size_t at = 0; at < taken.size(); at += options_.batch_limit) {
      const size_t n = std::min(options_.batch_limit, taken.size() - at);
      const std::string body = encode_otlp_request(std::span<const Span>(taken).subspan(at, n), options_.resource);
      auto status = client.post(body);
      if (status && *status >= 200 && *status < 300) {
        exported_.fetch_add(n, std::memory_order_relaxed);
      } else {
        failed_.fetch_add(n, std::memory_order_relaxed);
        // One line per failed POST, at most about one a second: the flush interval.
        spdlog::warn("OTLP export of {} spans to {}: {}", n, options_.url,
                     status ? "status " + std::to_string(*status) : status.error().to_string());
      }
    }
    taken.clear();
    if (last) return;
  }
}

void SpanExporter::write_metrics(ExpositionWriter& w) const {
  w.counter("sluice_tracing_spans_exported", "Spans the OTLP receiver accepted (a 2xx answer).");
  w.counter_sample("sluice_tracing_spans_exported", "", exported());
  w.counter("sluice_tracing_spans_dropped", "Spans dropped because the export queue was full.");
  w.counter_sample("sluice_tracing_spans_dropped", "", dropped());
  w.counter("sluice_tracing_spans_failed", "Spans whose OTLP POST failed (no answer, or not 2xx); not retried.");
  w.counter_sample("sluice_tracing_spans_failed", "", failed());
}

}  // namespace sluice::telemetry
