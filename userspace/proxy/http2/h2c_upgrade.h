// `Upgrade: h2c` from HTTP/1.1 (RFC 7540 3.2): the proxy answers 101, and
// the request becomes stream 1 of an HTTP/2 session on the same connection.
// Only on cleartext connections (h2c is not for TLS), and only for a request
// whose body was read whole (the upgrade happens after it).
#pragma once

#include <boost/beast/core/flat_buffer.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "downstream.h"
#include "http_types.h"
#include "proxy_asio.h"
#include "worker.h"

namespace sluice::proxy {

// The SETTINGS payload of an h2c upgrade request (its HTTP2-Settings field,
// base64url), or nullopt when the request asks for no h2c upgrade or its
// settings do not decode.
std::optional<std::string> h2c_upgrade_settings(const Request& req);

// Removes what belongs to the HTTP/1.1 hop of an h2c upgrade (the h2c token,
// HTTP2-Settings), for a request served as HTTP/1.1 anyway.
void drop_h2c_upgrade(Request& req);

// Answers 101 and serves the connection as HTTP/2 with `req` (moved from)
// as stream 1.
Task<void> serve_h2c_upgrade(Worker& w, TcpStream& stream, boost::beast::flat_buffer& buffer, const Downstream& ds,
                             Request& req, const std::string& settings);

}  // namespace sluice::proxy
