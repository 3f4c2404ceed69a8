// One attempt of a request at one endpoint over HTTP/2 (the target's port is
// http2/grpc, or its DestinationRule upgrades): a stream on a pooled
// multiplexed connection, or on a new one under the cluster's circuit
// breaker; the request out whole, the response head in. The body and
// trailers follow through the reply's stream.
#pragma once

#include <memory>
#include <optional>

#include "request_body_pipe.h"
#include "retry_policy.h"
#include "upstream_conn.h"
#include "worker.h"

namespace sluice::proxy {

// `pipe`: the body of an h2 client as it arrives (null: the request's own body).
Task<AttemptOutcome> attempt_h2(Worker& w, const config::Endpoint& ep, const Request& req,
                                const std::shared_ptr<RequestBodyPipe>& pipe,
                                UpstreamReply& reply, const RouteDecision& d,
                                std::optional<RetryClock::time_point> deadline);

}  // namespace sluice::proxy
