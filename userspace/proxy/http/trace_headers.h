// The trace headers of a proxied request (telemetry/trace_context.h) read
// from and written to the Beast message.
#pragma once

#include "http_types.h"
#include "trace_context.h"

namespace sluice::proxy {

// Views into `req`: valid while its headers are unchanged.
telemetry::TraceHeaders trace_headers_of(const Request& req);

// Replaces the trace headers of `req` with the ones that carry `ctx` to the
// next hop (B3 too with `with_b3`: telemetry::b3_wanted). `had_trace_headers`
// false: the request holds none yet (the common case of a client that sends
// none), so nothing is looked up to erase.
void write_trace_headers(Request& req, const telemetry::TraceContext& ctx, bool had_trace_headers = true,
                         bool with_b3 = true);

// Whether any trace header was present.
bool any_trace_header(const telemetry::TraceHeaders& h);

}  // namespace sluice::proxy
