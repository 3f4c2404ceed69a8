// Opaque TCP through the daemon: ports that VirtualService tcp or tls routes
// take, and the relay half of Gateway TLS PASSTHROUGH.
#pragma once

#include <chrono>
#include <string>

#include "access_log.h"
#include "downstream.h"
#include "worker.h"

namespace sluice::proxy {

// One upstream connection per client connection, routed by tcp routes (or,
// where tls routes take the port, by the ClientHello's server name first).
Task<void> tcp_proxy(Worker& w, Socket client, const Downstream& ds, config::SnapshotPtr snap);

// The rest of an L4 connection once it is decided: a slot under
// maxConnections, a connect under connectTimeout, the bytes read so far
// (`first`), then both directions until a side ends or tcp.idleTimeout
// passes; one access-log line.
Task<void> relay_to_endpoint(Worker& w, Socket& client, const std::string& first, RouteDecision& d,
                             telemetry::AccessLogEntry& log, std::chrono::steady_clock::time_point start);

}  // namespace sluice::proxy
