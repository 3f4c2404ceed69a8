// Process-wide counters of the HTTP/2 sessions: how often each limit against
// hostile input fired. write_h2_metrics renders them for /metrics
// (sluice_proxy_http2_*), called by the daemon's metrics route.
#pragma once

#include <atomic>
#include <cstdint>

#include "exposition.h"

namespace sluice::proxy {

struct H2Stats {
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> streams{0};            // requests dispatched
  std::atomic<uint64_t> streamed_bodies{0};    // of which with the body piped upstream as it arrived
  std::atomic<uint64_t> refused_streams{0};    // past MAX_CONCURRENT_STREAMS
  std::atomic<uint64_t> header_list_too_large{0};
  std::atomic<uint64_t> rapid_reset_goaways{0};
  std::atomic<uint64_t> flood_closes{0};       // SETTINGS/PING/CONTINUATION floods, nghttp2's verdict
  std::atomic<uint64_t> protocol_error_closes{0};
  std::atomic<uint64_t> idle_closes{0};
  // Request trailers of an h2 client that an HTTP/1.1 upstream could not
  // take: the body went with the client's Content-Length, not chunked.
  std::atomic<uint64_t> request_trailers_dropped{0};
  // Upstream connections (h2_client_session.h): a server's header list past
  // the limit (the stream is reset), and connections closed for a flood or
  // a protocol error of the server.
  std::atomic<uint64_t> upstream_header_list_too_large{0};
  std::atomic<uint64_t> upstream_flood_closes{0};
  std::atomic<uint64_t> upstream_protocol_error_closes{0};

  static H2Stats& global() {
    static H2Stats stats;
    return stats;
  }
  static void add(std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }
};

// sluice_proxy_http2_connections_total, sluice_proxy_http2_streams_total,
// sluice_proxy_http2_streamed_request_bodies_total,
// sluice_proxy_http2_request_trailers_dropped_total and
// sluice_proxy_http2_limit_events_total{limit=...}.
void write_h2_metrics(telemetry::ExpositionWriter& w);

}  // namespace sluice::proxy
