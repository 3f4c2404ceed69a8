// The trace header parser (telemetry/trace_context.h) on arbitrary header
// values: the input is split at '\n' into traceparent, tracestate, b3 and
// the x-b3-* headers, in that order. Whatever parses must survive its own
// formatting: the headers written for a parsed context parse back to the
// same ids and sampling decision.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "trace_context.h"

using sluice::telemetry::TraceContext;
using sluice::telemetry::TraceHeaders;

namespace {

TraceHeaders split(std::string_view in) {
  std::string_view* fields[] = {nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
  TraceHeaders h;
  fields[0] = &h.traceparent;
  fields[1] = &h.tracestate;
  fields[2] = &h.b3;
  fields[3] = &h.x_b3_traceid;
  fields[4] = &h.x_b3_spanid;
  fields[5] = &h.x_b3_parentspanid;
  fields[6] = &h.x_b3_sampled;
  fields[7] = &h.x_b3_flags;
  for (std::string_view* f : fields) {
    const size_t nl = in.find('\n');
    *f = in.substr(0, nl);
    if (nl == std::string_view::npos) break;
    in.remove_prefix(nl + 1);
  }
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const TraceContext ctx = sluice::telemetry::parse_trace_context(split({reinterpret_cast<const char*>(data), size}));
  if (!ctx.has_ids()) return 0;
  TraceHeaders back;
  const auto out = sluice::telemetry::outgoing_trace_headers(ctx);
  for (const auto& [name, value] : out) {
    if (name == "traceparent") back.traceparent = value;
  }
  const TraceContext again = sluice::telemetry::parse_trace_context(back);
  if (!(again.trace_id == ctx.trace_id) || again.span_id != ctx.span_id ||
      again.sampled.value_or(false) != ctx.sampled.value_or(false)) {
    std::abort();
  }
  return 0;
}
