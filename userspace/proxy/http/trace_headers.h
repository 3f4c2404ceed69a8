// The trace headers of a proxied request (telemetry/trace_context.h) read
// from and written to the Beast message.
#pragma once

#include "http_types.h"
#include "trace_context.h"

namespace sluice::proxy {

// Views into `req`: valid while its headers are unchanged.
telemetry::TraceHeaders trace_headers_of(const Request& req);

// Replaces every trace header of `req` (all formats) with the ones that carry
// `ctx` to the next hop.
void write_trace_headers(Request& req, const telemetry::TraceContext& ctx);

}  // namespace sluice::proxy
