#include "retry_loop.h"

#include <boost/container/small_vector.hpp>

#include "attempt.h"
#include "attempt_span.h"
#include "endpoint_picker.h"
#include "grpc_status.h"
#include "header_ops.h"
#include "ip_text.h"
#include "local_reply.h"
#include "shadow_writer.h"

namespace sluice::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

const config::RetryPolicy kNoRetries{0, 0, ""};

// Outlier detection sees every attempt's result: a status, or (0) a local
// connect failure, reset or timeout. The proxy's own overflow is not the
// endpoint's fault and is not reported. A grpc-status in the response
// headers counts as the HTTP status it maps to, as in Envoy (one that only
// comes in the trailers does not count).
void report_outlier(Cluster& cluster, const config::Endpoint& ep, const AttemptOutcome& o) {
  if (o.kind == AttemptOutcome::Kind::kOverflow) return;
  unsigned status = OutlierDetector::kLocalOriginFailure;
  if (o.kind == AttemptOutcome::Kind::kResponse) status = o.grpc_status ? http_status_of_grpc(*o.grpc_status) : o.status;
  cluster.outlier.report(EndpointPicker::endpoint_id(&ep), status, OutlierDetector::Clock::now());
}

telemetry::ResponseFlags with_retry_limit(telemetry::ResponseFlag why, bool exhausted) {
  telemetry::ResponseFlags f(why);
  if (exhausted) f.set(telemetry::ResponseFlag::kUpstreamRetryLimitExceeded);
  return f;
}

}  // namespace

Task<ForwardResult> forward(Worker& w, Request& req, StreamingBody* streaming, const RouteDecision& d,
                            telemetry::AccessLogEntry& log) {
  // The request is not needed after this: move it rather than copy a body.
  const unsigned version = req.version();
  Request up_req = std::move(req);
  strip_hop_by_hop(up_req);
  if (d.route) {
    const auto& spec = *d.route->spec;
    if (spec.has_rewrite()) {
      up_req.target(rewrite_target(spec, std::string(up_req.target())));
      if (!spec.rewrite().authority().empty()) up_req.set(http::field::host, spec.rewrite().authority());
    }
    if (spec.has_headers()) apply_header_ops(spec.headers().request(), up_req);
  }
  if (d.destination) {
    // destinations[i] was resolved from route(i).
    const auto& chosen = d.route->spec->route(static_cast<int>(d.destination - d.route->destinations.data()));
    if (chosen.has_headers()) apply_header_ops(chosen.headers().request(), up_req);
  }
  up_req.keep_alive(true);
  // A streamed body keeps the client's framing (Content-Length or chunked).
  if (!streaming) up_req.prepare_payload();

  ForwardResult result;
  auto local = [&](unsigned status, std::string body) {
    result.local = local_reply(status, version, true, std::move(body));
    return std::move(result);
  };
  // Mirrors get their copy first and on their own: nothing they do can delay
  // or fail this request (a streamed body is teed to them as it comes).
  send_shadows(w, up_req, streaming, d);

  std::optional<CircuitBreaker::Guard> request_slot = d.cluster().breaker.try_request();
  if (!request_slot) {
    log.flags = telemetry::ResponseFlag::kUpstreamOverflow;
    co_return local(503, kOverflowBody);
  }

  // Retries: the route timeout covers every attempt; each waits a fully
  // jittered back-off and goes to an endpoint not tried yet where possible.
  // A streamed request is retried only while its body can be replayed (an h2
  // client's body within the retry buffer); one from an HTTP/1.1 connection
  // has a single attempt.
  const bool replayable = !streaming || streaming->replayable();
  const config::RetryPolicy& policy = d.route && replayable ? d.route->retries : kNoRetries;
  const ParsedRetryOn& retry_on = w.router.retry_on(d.route);
  const auto deadline = replayable ? route_deadline(RetryClock::now(), d.timeout_ms) : std::nullopt;
  boost::container::small_vector<const config::Endpoint*, 4> tried;  // no allocation for the usual few attempts
  const config::Endpoint* ep = d.endpoint;
  std::optional<CircuitBreaker::Guard> retry_slot;
  bool retry_overflow = false;
  auto reply = std::make_unique<UpstreamReply>();
  AttemptOutcome outcome;
  for (uint32_t n = 0;; ++n) {
    const auto attempt_deadline = next_attempt_deadline(policy, n, RetryClock::now(), deadline);
    if (!attempt_deadline && n > 0) break;
    ++log.attempts;
    if (w.logging() || log.trace.sampled) log.upstream = format_endpoint(ep->ip, ep->port);
    log.upstream_ip = ep->ip;
    tried.push_back(ep);
    w.router.picker().started(ep);
    auto until = attempt_deadline && *attempt_deadline != RetryClock::time_point::max()
                     ? attempt_deadline : std::optional<RetryClock::time_point>{};
    if (!replayable && d.timeout_ms > 0) until = RetryClock::now() + std::chrono::milliseconds(d.timeout_ms);
    if (n > 0) reply = std::make_unique<UpstreamReply>();
    uint64_t streamed = 0;
    begin_attempt_span(log.trace, up_req, log.upstream);
    outcome = co_await attempt(w, *ep, up_req, streaming, *reply, d, until, streamed);
    end_attempt_span(log.trace, outcome, *reply);
    if (streaming && !streaming->pipe()) log.request_bytes = streamed;  // the buffered prefix is part of it
    w.router.picker().finished(ep);
    report_outlier(d.cluster(), *ep, outcome);
    if (deadline && RetryClock::now() >= *deadline) {
      log.flags = telemetry::ResponseFlag::kUpstreamRequestTimeout;
      co_return local(504, "upstream request timeout\n");
    }
    if (!should_retry(retry_on, outcome) || n >= policy.attempts) break;
    // The body outgrew the retry buffer meanwhile: no retry (Envoy's rule).
    if (streaming && !streaming->replayable()) break;
    // maxRetries: a retry without a slot is skipped, and the response so far stands.
    retry_slot = d.cluster().breaker.try_retry();
    if (!retry_slot) {
      retry_overflow = true;
      break;
    }
    Timer pause(w.ioc, backoff(n + 1, w.rng()));
    beast::error_code ignored;
    co_await pause.async_wait(redirect(ignored));
    ep = w.router.repick(d, {tried.data(), tried.size()});
    if (!ep) break;
  }
  const bool exhausted = log.attempts > 1 && should_retry(retry_on, outcome);
  if (retry_overflow) log.flags = telemetry::ResponseFlag::kUpstreamOverflow;
  switch (outcome.kind) {
    case AttemptOutcome::Kind::kOverflow:
      log.flags = telemetry::ResponseFlag::kUpstreamOverflow;
      co_return local(503, kOverflowBody);
    case AttemptOutcome::Kind::kResponse: {
      if (exhausted) log.flags.set(telemetry::ResponseFlag::kUpstreamRetryLimitExceeded);
      auto& res = reply->head();
      strip_hop_by_hop(res);
      if (d.route && d.route->spec->has_headers()) apply_header_ops(d.route->spec->headers().response(), res);
      if (!d.set_cookie.empty()) res.insert(http::field::set_cookie, d.set_cookie);
      result.upstream = std::move(reply);
      co_return std::move(result);
    }
    case AttemptOutcome::Kind::kConnectFailure:
      log.flags = with_retry_limit(telemetry::ResponseFlag::kUpstreamConnectionFailure, exhausted);
      log.upstream_transport_failure_reason = std::move(outcome.failure_reason);
      co_return local(503, "upstream connect error\n");
    case AttemptOutcome::Kind::kPerTryTimeout:
      log.flags = with_retry_limit(telemetry::ResponseFlag::kUpstreamRequestTimeout, exhausted);
      co_return local(504, "upstream request timeout\n");
    default:
      log.flags = with_retry_limit(telemetry::ResponseFlag::kUpstreamConnectionTermination, exhausted);
      co_return local(503, "upstream connection terminated\n");
  }
}

}  // namespace sluice::proxy
