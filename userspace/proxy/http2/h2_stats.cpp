#include "h2_stats.h"

#include <utility>

namespace sluice::proxy {

void write_h2_metrics(telemetry::ExpositionWriter& w) {
  using telemetry::ExpositionWriter;
  const H2Stats& s = H2Stats::global();
  w.counter("sluice_proxy_http2_connections", "HTTP/2 downstream connections (h2c with prior knowledge).");
  w.counter_sample("sluice_proxy_http2_connections", "", s.connections.load());
  w.counter("sluice_proxy_http2_streams", "HTTP/2 request streams handed to the request path.");
  w.counter_sample("sluice_proxy_http2_streams", "", s.streams.load());
  w.counter("sluice_proxy_http2_streamed_request_bodies",
            "HTTP/2 requests whose body went upstream as it arrived (gRPC, or past the retry buffer).");
  w.counter_sample("sluice_proxy_http2_streamed_request_bodies", "", s.streamed_bodies.load());
  w.counter("sluice_proxy_http2_request_trailers_dropped",
            "HTTP/2 request trailers not forwarded: the HTTP/1.1 upstream request had a Content-Length.");
  w.counter_sample("sluice_proxy_http2_request_trailers_dropped", "", s.request_trailers_dropped.load());
  w.counter("sluice_proxy_http2_limit_events",
            "HTTP/2 limits against hostile input that fired (docs/http2.md), by limit.");
  const std::pair<const char*, const std::atomic<uint64_t>*> events[] = {
      {"refused_stream", &s.refused_streams},
      {"header_list_too_large", &s.header_list_too_large},
      {"rapid_reset", &s.rapid_reset_goaways},
      {"flood", &s.flood_closes},
      {"protocol_error", &s.protocol_error_closes},
      {"idle_timeout", &s.idle_closes},
  };
  for (const auto& [name, value] : events) {
    w.counter_sample("sluice_proxy_http2_limit_events", ExpositionWriter::label_text({{"limit", name}}), value->load());
  }
  w.counter("sluice_proxy_http2_upstream_limit_events",
            "HTTP/2 limits against hostile upstream servers that fired (docs/l7.md), by limit.");
  const std::pair<const char*, const std::atomic<uint64_t>*> upstream[] = {
      {"header_list_too_large", &s.upstream_header_list_too_large},
      {"flood", &s.upstream_flood_closes},
      {"protocol_error", &s.upstream_protocol_error_closes},
  };
  for (const auto& [name, value] : upstream) {
    w.counter_sample("sluice_proxy_http2_upstream_limit_events", ExpositionWriter::label_text({{"limit", name}}),
                     value->load());
  }
}

}  // namespace sluice::proxy
