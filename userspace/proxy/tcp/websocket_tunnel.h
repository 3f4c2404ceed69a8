// HTTP Upgrade (WebSocket): the upgrade request goes to one endpoint, and
// after its 101 the connection is a byte tunnel that leaves HTTP behind.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>

#include "access_log.h"
#include "http_types.h"
#include "worker.h"

namespace sluice::proxy {

Task<void> tunnel(Worker& w, TcpStream& client, boost::beast::flat_buffer& client_buf, Request& req,
                  const RouteDecision& d, telemetry::AccessLogEntry& log);

}  // namespace sluice::proxy
