// An upstream attempt as a child span of the request's (Envoy's upstream
// request span): a fresh span id in the attempt's trace headers, so the
// application's span names this attempt as its parent, and the attempt's
// times and outcome for the export. No-ops unless the request is sampled.
#pragma once

#include "http_types.h"
#include "request_trace.h"
#include "retry_policy.h"
#include "upstream_conn.h"

namespace sluice::proxy {

// Before the attempt: its span starts and `req` carries its context.
void begin_attempt_span(telemetry::RequestTrace& trace, Request& req, const std::string& upstream);

// After it: the span ends with the attempt's status (0: no response) and,
// when a response came, the kernel's RTT of the connection it came on.
void end_attempt_span(telemetry::RequestTrace& trace, const AttemptOutcome& outcome, const UpstreamReply& reply);

}  // namespace sluice::proxy
