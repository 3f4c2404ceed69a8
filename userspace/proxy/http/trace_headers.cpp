#include "trace_headers.h"

namespace sluice::proxy {

telemetry::TraceHeaders trace_headers_of(const Request& req) {
  // One pass over the request's few headers rather than a lookup per trace
  // header name: this runs on every request, and most carry none of them.
  // The first of repeated headers counts, as a lookup by name would give.
  telemetry::TraceHeaders h;
  std::string_view* slots[telemetry::kTraceHeaderNames.size()] = {
      &h.traceparent, &h.tracestate, &h.b3, &h.x_b3_traceid, &h.x_b3_spanid, &h.x_b3_parentspanid, &h.x_b3_sampled,
      &h.x_b3_flags};
  unsigned seen = 0;
  for (const auto& f : req) {
    const boost::beast::string_view name = f.name_string();
    if (name.size() < 2 || name.size() > 17) continue;
    // Every trace header name starts with "tr", "b3" or "x-b3": most
    // headers (x-request-id among them) leave here, before any compare.
    auto lower = [](char c) { return static_cast<char>(c | 0x20); };
    const char first = lower(name[0]);
    const bool maybe = (first == 't' && lower(name[1]) == 'r') || (first == 'b' && name[1] == '3') ||
                       (first == 'x' && name.size() >= 5 && name[1] == '-' && lower(name[2]) == 'b' && name[3] == '3');
    if (!maybe) continue;
    for (size_t i = 0; i < telemetry::kTraceHeaderNames.size(); ++i) {
      const std::string_view want = telemetry::kTraceHeaderNames[i];
      if (name.size() != want.size() || !boost::beast::iequals(name, boost::beast::string_view(want.data(), want.size())))
        continue;
      if (!(seen & (1u << i))) {
        seen |= 1u << i;
        *slots[i] = std::string_view(f.value().data(), f.value().size());
      }
      break;
    }
  }
  return h;
}

bool any_trace_header(const telemetry::TraceHeaders& h) {
  return !h.traceparent.empty() || !h.tracestate.empty() || !h.b3.empty() || !h.x_b3_traceid.empty() ||
         !h.x_b3_spanid.empty() || !h.x_b3_parentspanid.empty() || !h.x_b3_sampled.empty() || !h.x_b3_flags.empty();
}

void write_trace_headers(Request& req, const telemetry::TraceContext& ctx, bool had_trace_headers, bool with_b3) {
  if (had_trace_headers) {
    for (std::string_view name : telemetry::kTraceHeaderNames) {
      req.erase(boost::beast::string_view(name.data(), name.size()));
    }
  }
  // insert, not set: every name is gone by now.
  telemetry::emit_trace_headers(
      ctx,
      [&req](std::string_view name, std::string_view value) {
        req.insert(boost::beast::string_view(name.data(), name.size()),
                   boost::beast::string_view(value.data(), value.size()));
      },
      with_b3);
}

}  // namespace sluice::proxy
