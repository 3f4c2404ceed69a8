// Tracing as a request filter (docs/observability.md "Tracing"). First in
// the chain, so a request that a later filter answers is traced too.
//   on_request   reads the client's trace context (W3C or B3), decides
//                sampling (the client's decision if it sent one, else the
//                configured percentage), and gives the upstream request a
//                context whose parent is sluice's span for the request;
//   the retry loop makes each attempt a child span (upstream/attempt_span.h);
//   on_complete  builds the request's span and its attempts' with Istio's
//                attributes and hands them to the exporter (never waits).
// Without an exporter the filter is not in the chain: the client's trace
// headers pass through untouched.
#pragma once

#include <cstdint>
#include <string>

#include "request_filter.h"
#include "tracing_settings.h"

namespace sluice::proxy {

class TracingFilter final : public RequestFilter {
 public:
  explicit TracingFilter(TracingSettings settings);

  FilterAction on_request(RequestContext& ctx) override;
  void on_complete(const RequestContext& ctx, const telemetry::AccessLogEntry& done) override;
  bool sees_router_replies() const override { return true; }

 private:
  bool sample();
  uint64_t rng() { return telemetry::splitmix64(rng_state_); }

  TracingSettings settings_;
  uint64_t threshold_;  // sample() is true for rng() % kSampleScale below this
  // The worker's own generator (filters are per worker), seeded once from
  // std::random_device: ids and sampling per request cost a few
  // multiplications, no lock and no system call.
  uint64_t rng_state_;
};

}  // namespace sluice::proxy
