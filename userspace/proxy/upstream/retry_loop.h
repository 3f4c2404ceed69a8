// Forwards one request upstream: route rewrites and header operations,
// mirrors, then attempts under the route's retry policy and timeout
// (Envoy's router filter and retry state). Returns the upstream response
// with its body still to relay, or a local reply with its response flags
// set in `log`.
#pragma once

#include "access_log.h"
#include "streaming_body.h"
#include "upstream_conn.h"
#include "worker.h"

namespace sluice::proxy {

Task<ForwardResult> forward(Worker& w, Request& req, StreamingBody* streaming, const RouteDecision& d,
                            telemetry::AccessLogEntry& log);

}  // namespace sluice::proxy
