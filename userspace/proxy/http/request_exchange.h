// The steps every HTTP request takes, whatever framing it came in (an
// HTTP/1.1 session or an HTTP/2 stream): the completion record started,
// a request id, the route decision, the request filters, the upstream
// (or a local answer), and the completion recorded once. The sessions own
// only their framing: how bytes become a Request, how a hold notices the
// client leaving, and how the response goes back.
#pragma once

#include <chrono>
#include <functional>
#include <string_view>

#include "access_log.h"
#include "downstream.h"
#include "http_types.h"
#include "proxy_asio.h"
#include "request_filter.h"
#include "request_router.h"
#include "streaming_body.h"
#include "upstream_conn.h"
#include "worker.h"

namespace sluice::proxy {

// One request from its headers to its completion. It refers to the request
// and the downstream, which must outlive it; it is neither copied nor moved
// (the filter context points into it).
class Exchange {
 public:
  // Starts the record (method, path, authority, client), gives the request an
  // x-request-id if it has none, and routes it. `scheme` is the request's
  // (":scheme" in HTTP/2, "http" for plain HTTP/1.1). `start` is when the
  // request's headers were whole: the record's duration counts from there.
  // `remote_ip` is the original client for the filters (host order): the
  // peer, or at a Gateway behind trusted proxies, from X-Forwarded-For.
  Exchange(Worker& w, Request& req, const Downstream& ds, std::string_view scheme,
           std::chrono::steady_clock::time_point start, uint32_t remote_ip);
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // How a session holds a request for a filter's delay: true once the delay
  // is over, false as soon as the client went away meanwhile.
  using Hold = std::function<Task<bool>(std::chrono::milliseconds)>;

  // Runs the request filters (request_filter.h). False: the client left
  // during a hold, the completion is recorded already (flag DC) and nothing
  // must be sent or forwarded.
  Task<bool> run_filters(const Hold& hold);

  // The answer: a local reply (route or filter decision, at `version` with
  // `keep_alive`) or the upstream's response, through forward().
  Task<ForwardResult> answer(StreamingBody* streaming, unsigned version, bool keep_alive);

  // The response headers through the filters, before they go downstream;
  // a gRPC request's record takes their grpc-status (a trailers-only answer).
  void on_response(ResponseHeader& headers);
  // The response trailers, as they go downstream: their grpc-status wins.
  void on_trailers(const Fields& trailers);

  // Records the completion (access log, metrics): once, at the end.
  void complete();

  RouteDecision& decision() { return decision_; }
  const telemetry::ResponseFlags& injected_flags() const { return injected_; }
  telemetry::AccessLogEntry log;

 private:
  Worker& w_;
  Request& req_;
  const std::chrono::steady_clock::time_point start_;
  RouteDecision decision_;
  RequestContext ctx_;
  telemetry::ResponseFlags injected_;  // the filters' flags
  // A gRPC request: grpc-timeout applies, local replies are trailers-only.
  const bool grpc_;
};

}  // namespace sluice::proxy
