// The request-filter chain: the one seam through which per-request features
// act on HTTP traffic (after Envoy's HTTP filters). The session runs it; it
// knows no feature by name.
//
// For each request, after the router has chosen a route:
//   on_request   sees the request headers and the route decision; it lets
//                the request go on, holds it for a while (a delay), or
//                answers it locally (which ends the chain);
//   on_response  sees the response headers before they go downstream, the
//                upstream's or a local reply's alike;
//   on_complete  sees the completion record once the exchange is over: status,
//                response flags, timings, bytes, upstream.
// Filters are per worker thread, so they need no locks of their own; what
// they share across workers (a node-wide token bucket, counters) must be.
// Authorization, rate limits, faults, metrics and the access log are filters
// and tracing are filters today.
#pragma once

#include <chrono>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "access_log.h"
#include "downstream.h"
#include "http_types.h"
#include "request_router.h"
#include "response_flags.h"

namespace sluice::proxy {

// The request is forwarded (moved upstream) after on_request: on_response
// and on_complete must not read it; a filter keeps what it needs from it.
struct RequestContext {
  Request& request;             // headers (and a buffered body); a filter may edit headers
  const Downstream& downstream;
  const RouteDecision& route;   // what the router chose
  std::minstd_rand& rng;        // the worker's
  // The original client (host order): the connection's peer, or at a
  // Gateway behind trusted proxies, from X-Forwarded-For.
  uint32_t remote_ip = 0;
  // The request's tracing state on its completion record (filters/
  // tracing_filter.h); null where a request has no record.
  telemetry::RequestTrace* trace = nullptr;
};

// What a filter wants done with the request.
struct FilterAction {
  // Hold the request this long, then go on with the next filter. A client
  // that hangs up meanwhile ends the request (flag DC); it is not forwarded.
  std::chrono::milliseconds delay{0};
  // Non-zero: answer locally with this status and body; the chain stops.
  unsigned local_status = 0;
  std::string local_body;
  std::vector<std::pair<std::string, std::string>> local_headers;
  telemetry::ResponseFlags flags;  // recorded whether or not the request goes on
};

using ResponseHeader = boost::beast::http::response_header<Fields>;

class RequestFilter {
 public:
  virtual ~RequestFilter() = default;
  virtual FilterAction on_request(RequestContext& ctx) = 0;
  virtual void on_response(RequestContext& /*ctx*/, ResponseHeader& /*headers*/) {}
  virtual void on_complete(const RequestContext& /*ctx*/, const telemetry::AccessLogEntry& /*done*/) {}
  // Whether on_request runs also for a request the router answered itself
  // (no route, direct response, redirect). Such a request has nothing to
  // authorize, limit or fault, but Envoy traces it like any other (a 404 NR
  // span); its action is ignored.
  virtual bool sees_router_replies() const { return false; }
};

}  // namespace sluice::proxy
