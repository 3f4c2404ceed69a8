// Gateway traffic: the server on this port that serves the Host (for HTTPS,
// the one SNI chose, which must serve the Host too), then the routes of the
// VirtualServices bound to its Gateway.
#pragma once

#include "downstream.h"
#include "http_types.h"
#include "request_router.h"
#include "worker.h"

namespace sluice::proxy {

RouteDecision gateway_decision(Worker& w, const config::SnapshotPtr& snap, const Downstream& ds, const Request& req,
                               RequestAttrs& attrs);

}  // namespace sluice::proxy
