// Process-wide counters of request mirroring (upstream/shadow_writer.h):
// copies sent, by the protocol they went over, and copies abandoned, by why.
// write_mirror_metrics renders them for /metrics (sluice_proxy_mirror_*).
#pragma once

#include <atomic>
#include <cstdint>

#include "exposition.h"

namespace sluice::proxy {

struct MirrorStats {
  std::atomic<uint64_t> sent_http1{0};
  std::atomic<uint64_t> sent_http2{0};
  // Why a copy did not make it whole (its response is never waited for by
  // the request, so these only count).
  std::atomic<uint64_t> lagging{0};          // its reader fell past kMirrorLagBudgetBytes behind the body
  std::atomic<uint64_t> body_unavailable{0}; // the body's start was gone before the copy could start
  std::atomic<uint64_t> overflow{0};         // the mirror cluster's circuit breaker
  std::atomic<uint64_t> connect_failure{0};
  std::atomic<uint64_t> timeout{0};          // kMirrorTimeout passed
  std::atomic<uint64_t> reset{0};            // the mirror reset the stream or closed the connection

  static MirrorStats& global() {
    static MirrorStats stats;
    return stats;
  }
  static void add(std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }
};

// sluice_proxy_mirror_requests_total{protocol} and
// sluice_proxy_mirror_dropped_total{reason}.
void write_mirror_metrics(telemetry::ExpositionWriter& w);

}  // namespace sluice::proxy
