#include "trace_headers.h"

namespace sluice::proxy {

namespace {

std::string_view field(const Request& req, std::string_view name) {
  const auto v = req[boost::beast::string_view(name.data(), name.size())];
  return {v.data(), v.size()};
}

}  // namespace

telemetry::TraceHeaders trace_headers_of(const Request& req) {
  telemetry::TraceHeaders h;
  h.traceparent = field(req, "traceparent");
  h.tracestate = field(req, "tracestate");
  h.b3 = field(req, "b3");
  h.x_b3_traceid = field(req, "x-b3-traceid");
  h.x_b3_spanid = field(req, "x-b3-spanid");
  h.x_b3_parentspanid = field(req, "x-b3-parentspanid");
  h.x_b3_sampled = field(req, "x-b3-sampled");
  h.x_b3_flags = field(req, "x-b3-flags");
  return h;
}

void write_trace_headers(Request& req, const telemetry::TraceContext& ctx) {
  for (std::string_view name : telemetry::kTraceHeaderNames) req.erase(boost::beast::string_view(name.data(), name.size()));
  for (const auto& [name, value] : telemetry::outgoing_trace_headers(ctx)) {
    req.set(boost::beast::string_view(name.data(), name.size()), value);
  }
}

}  // namespace sluice::proxy
