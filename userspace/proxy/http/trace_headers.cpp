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

bool any_trace_header(const telemetry::TraceHeaders& h) {
  return !h.traceparent.empty() || !h.tracestate.empty() || !h.b3.empty() || !h.x_b3_traceid.empty() ||
         !h.x_b3_spanid.empty() || !h.x_b3_parentspanid.empty() || !h.x_b3_sampled.empty() || !h.x_b3_flags.empty();
}

void write_trace_headers(Request& req, const telemetry::TraceContext& ctx, bool had_trace_headers) {
  if (had_trace_headers) {
    for (std::string_view name : telemetry::kTraceHeaderNames) {
      req.erase(boost::beast::string_view(name.data(), name.size()));
    }
  }
  // insert, not set: every name is gone by now.
  telemetry::emit_trace_headers(ctx, [&req](std::string_view name, std::string_view value) {
    req.insert(boost::beast::string_view(name.data(), name.size()), boost::beast::string_view(value.data(), value.size()));
  });
}

}  // namespace sluice::proxy
