#include "attempt_span.h"

#include "socket_rtt.h"
#include "trace_headers.h"

namespace sluice::proxy {

namespace {

const char* failure_of(AttemptOutcome::Kind kind) {
  switch (kind) {
    case AttemptOutcome::Kind::kResponse: return nullptr;
    case AttemptOutcome::Kind::kConnectFailure: return "connect failure";
    case AttemptOutcome::Kind::kReset: return "reset before response";
    case AttemptOutcome::Kind::kRefusedStream: return "refused stream";
    case AttemptOutcome::Kind::kPerTryTimeout: return "per-try timeout";
    case AttemptOutcome::Kind::kOverflow: return "circuit breaker overflow";
  }
  return "unknown";
}

}  // namespace

void begin_attempt_span(telemetry::RequestTrace& trace, Request& req, const std::string& upstream) {
  if (!trace.sampled) return;
  telemetry::AttemptSpan& span = trace.attempts.emplace_back();
  span.span_id = trace.new_span_id();
  span.start_unix_ns = telemetry::unix_now_ns();
  span.upstream = upstream;
  telemetry::TraceContext next = trace.upstream;
  next.span_id = span.span_id;
  next.parent_span_id = trace.request_span_id;
  write_trace_headers(req, next);
}

void end_attempt_span(telemetry::RequestTrace& trace, const AttemptOutcome& outcome, const UpstreamReply& reply) {
  if (!trace.sampled || trace.attempts.empty()) return;
  telemetry::AttemptSpan& span = trace.attempts.back();
  span.end_unix_ns = telemetry::unix_now_ns();
  span.status = outcome.kind == AttemptOutcome::Kind::kResponse ? outcome.status : 0;
  span.failure = failure_of(outcome.kind);
  if (outcome.kind == AttemptOutcome::Kind::kResponse) {
    span.rtt = telemetry::socket_rtt(reply.socket_fd());
    span.new_connection = reply.new_connection;
  }
}

}  // namespace sluice::proxy
