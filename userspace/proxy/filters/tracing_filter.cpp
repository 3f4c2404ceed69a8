#include "tracing_filter.h"

#include <algorithm>
#include <random>

#include "metric_labels.h"
#include "trace_headers.h"

namespace sluice::proxy {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;

// Sampling resolution: a millionth, so 0.0001% steps (Istio's percentage
// has two decimals).
constexpr uint64_t kSampleScale = 1'000'000;

std::string view_string(beast::string_view s) { return std::string(s.data(), s.size()); }

// The request's own facts, kept for its span before the request is forwarded.
void keep_request_facts(telemetry::RequestTrace& t, const RequestContext& ctx) {
  const Request& req = ctx.request;
  t.start_unix_ns = telemetry::unix_now_ns();
  t.method = view_string(req.method_string());
  t.request_id = view_string(req["x-request-id"]);
  t.user_agent = view_string(req[http::field::user_agent]);
  const std::string authority = view_string(req[http::field::host]);
  t.url = "http://" + authority + view_string(req.target());
  const RouteDecision& d = ctx.route;
  if (d.target) t.upstream_cluster = d.target->upstream_cluster;
  // Envoy's operation name for an outbound route: the destination's host
  // and port, then "/*".
  if (d.service) {
    t.span_name = d.service->fqdn + ":" + std::to_string(d.original_port) + "/*";
  } else {
    t.span_name = authority + "/*";
  }
}

// What a request's and an attempt's span share: the trace, the times, the
// kind (both are the client side of a call), and Istio's identifying tags.
// `status` 0 is no response; it and a 5xx are errors.
telemetry::Span new_span(const telemetry::RequestTrace& t, uint64_t id, uint64_t parent, uint64_t start_ns,
                         uint64_t end_ns, unsigned status, const std::string& node_id) {
  telemetry::Span s;
  s.attributes.reserve(24);  // the request span's count: no regrowth
  s.trace_id = t.upstream.trace_id;
  s.span_id = id;
  s.parent_span_id = parent;
  s.trace_state = t.upstream.tracestate;
  s.kind = telemetry::SpanKind::kClient;
  s.start_unix_ns = start_ns;
  s.end_unix_ns = std::max(end_ns, start_ns);
  s.error = status == 0 || status >= 500;
  s.set("node_id", node_id);
  s.set("component", "proxy");
  s.set("guid:x-request-id", t.request_id);
  s.set("http.status_code", std::to_string(status));
  return s;
}

telemetry::Span request_span(const telemetry::RequestTrace& t, const RequestContext& ctx,
                             const telemetry::AccessLogEntry& done, const std::string& node_id) {
  telemetry::Span s = new_span(t, t.request_span_id, t.parent_span_id, t.start_unix_ns, telemetry::unix_now_ns(),
                               done.status, node_id);
  s.name = t.span_name;
  // Istio's tags (Envoy's tracing tags plus the istio.* ones its proxies add).
  s.set("http.method", t.method);
  s.set("http.url", t.url);
  s.set("http.protocol", done.protocol.empty() ? "HTTP/1.1" : done.protocol);
  s.set("response_flags", done.flags.str());
  s.set("upstream_cluster", t.upstream_cluster.empty() ? "-" : t.upstream_cluster);
  s.set("upstream_cluster.name", t.upstream_cluster.empty() ? "-" : t.upstream_cluster);
  s.set("downstream_cluster", "-");
  s.set("user_agent", t.user_agent.empty() ? "-" : t.user_agent);
  s.set("request_size", std::to_string(done.request_bytes));
  s.set("response_size", std::to_string(done.response_bytes));
  s.set("peer.address", ctx.downstream.address);
  const SourcePod& src = ctx.route.source;
  const std::string canonical = src.labels ? telemetry::canonical_service(*src.labels, "unknown") : "unknown";
  s.set("istio.canonical_service", canonical);
  s.set("istio.canonical_revision", src.labels ? telemetry::canonical_revision(*src.labels) : "latest");
  s.set("istio.namespace", src.ns ? *src.ns : "unknown");
  if (src.ns && canonical != "unknown") s.service = canonical + "." + *src.ns;
  s.set("istio.mesh_id", "cluster.local");
  if (s.error) s.set("error", "true");
  return s;
}

telemetry::Span attempt_span(const telemetry::RequestTrace& t, const telemetry::AttemptSpan& a, size_t n,
                             const std::string& node_id) {
  telemetry::Span s = new_span(t, a.span_id, t.request_span_id, a.start_unix_ns, a.end_unix_ns, a.status, node_id);
  // Envoy's name for an upstream request's child span.
  s.name = "router " + t.upstream_cluster + " egress";
  s.set("upstream_cluster", t.upstream_cluster);
  s.set("upstream_address", a.upstream);
  s.set("sluice.attempt", std::to_string(n));
  if (a.rtt) {
    // The network's part of the wait for the response, and the rest: the
    // upstream application's (docs/observability.md "The network's part").
    const uint64_t elapsed_us = (s.end_unix_ns - s.start_unix_ns) / 1000;
    const uint64_t network_us = telemetry::network_share_us(*a.rtt, a.new_connection, elapsed_us);
    s.set("sluice.tcp.rtt_us", std::to_string(a.rtt->srtt_us));
    s.set("sluice.tcp.rttvar_us", std::to_string(a.rtt->rttvar_us));
    s.set("sluice.tcp.retransmits", std::to_string(a.rtt->retransmits));
    s.set("sluice.tcp.new_connection", a.new_connection ? "true" : "false");
    s.set("sluice.network_us", std::to_string(network_us));
    s.set("sluice.upstream_app_us", std::to_string(elapsed_us - network_us));
  }
  if (a.failure) s.set("error.message", a.failure);
  if (s.error) s.set("error", "true");
  return s;
}

}  // namespace

TracingFilter::TracingFilter(TracingSettings settings)
    : settings_(std::move(settings)),
      threshold_(static_cast<uint64_t>(std::clamp(settings_.sample_percent, 0.0, 100.0) / 100.0 * kSampleScale)) {
  std::random_device seed;
  rng_state_ = (static_cast<uint64_t>(seed()) << 32) ^ seed();
}

bool TracingFilter::sample() { return rng() % kSampleScale < threshold_; }

FilterAction TracingFilter::on_request(RequestContext& ctx) {
  if (!ctx.trace) return {};
  telemetry::RequestTrace& t = *ctx.trace;
  const telemetry::TraceHeaders headers = trace_headers_of(ctx.request);
  const bool had_trace_headers = any_trace_header(headers);
  const telemetry::TraceContext in = telemetry::parse_trace_context(headers);
  t.active = true;
  t.sampled = in.sampled ? *in.sampled : sample();
  t.seed(rng());
  telemetry::TraceContext& up = t.upstream;
  if (in.has_ids()) {
    up.trace_id = in.trace_id;
    t.parent_span_id = in.span_id;
    up.tracestate = in.tracestate;
  } else {
    do {
      up.trace_id = {rng(), rng()};
    } while (!up.trace_id.valid());
  }
  t.request_span_id = t.new_span_id();
  up.span_id = t.request_span_id;
  up.parent_span_id = t.parent_span_id;
  up.sampled = t.sampled;
  up.debug = in.debug;
  up.format = in.format;
  write_trace_headers(ctx.request, up, had_trace_headers, telemetry::b3_wanted(up));
  if (t.sampled) keep_request_facts(t, ctx);
  return {};
}

void TracingFilter::on_complete(const RequestContext& ctx, const telemetry::AccessLogEntry& done) {
  const telemetry::RequestTrace& t = done.trace;
  if (!t.sampled) return;
  telemetry::Span request = request_span(t, ctx, done, settings_.node_id);
  const std::string service = request.service;
  settings_.exporter->submit(std::move(request));
  for (size_t i = 0; i < t.attempts.size(); ++i) {
    telemetry::Span attempt = attempt_span(t, t.attempts[i], i + 1, settings_.node_id);
    attempt.service = service;
    settings_.exporter->submit(std::move(attempt));
  }
}

}  // namespace sluice::proxy
