// Request mirroring (Envoy's shadow writer): each mirror chosen by the route
// (router/mirror_policy.h) gets a copy with "-shadow" appended to its Host,
// sent on its own and never waited for; its response is discarded.
#pragma once

#include "http_types.h"
#include "request_router.h"
#include "worker.h"

namespace sluice::proxy {

void send_shadows(Worker& w, const Request& req, const RouteDecision& d);

}  // namespace sluice::proxy
