// Request mirroring (Envoy's shadow writer): each mirror chosen by the route
// (router/mirror_policy.h) gets a copy with "-shadow" appended to its Host,
// sent on its own and never waited for; its response is discarded. A copy
// goes over HTTP/2 (the upstream h2 pool) when the mirror's port is
// http2/grpc, else over HTTP/1.1 on a connection of its own. A body held
// whole is copied; a body still arriving (an h2 client's DATA, or an HTTP/1
// client's body past the retry buffer) is teed to each copy as it comes,
// and a copy that falls kMirrorLagBudgetBytes behind is dropped
// (upstream/mirror_stats.h counts why), so a mirror never holds the request
// back nor makes the proxy buffer without bound.
#pragma once

#include "http_types.h"
#include "request_router.h"
#include "streaming_body.h"
#include "worker.h"

namespace sluice::proxy {

// `streaming`: the request's body when it is not in `req` (null: it is).
void send_shadows(Worker& w, const Request& req, StreamingBody* streaming, const RouteDecision& d);

}  // namespace sluice::proxy
