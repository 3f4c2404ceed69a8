// A local reply (no route, overflow, timeout, a fault abort...) to a gRPC
// client, in gRPC's trailers-only form, as Envoy's sendLocalReply makes it
// for a gRPC request: HTTP 200, content-type application/grpc, and
// grpc-status (mapped from the HTTP status unless the reply set one) and
// grpc-message in the one HEADERS frame, with no body. A gRPC client
// reads the status from there; an HTTP 503 would only tell it
// "UNAVAILABLE: HTTP status 503" with no message.
#pragma once

#include "http_types.h"

namespace sluice::proxy {

void make_grpc_local_reply(Response& res);

}  // namespace sluice::proxy
