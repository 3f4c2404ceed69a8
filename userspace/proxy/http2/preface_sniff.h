// Tells the protocol of a mesh connection from its first bytes: the HTTP/2
// client preface (h2c with prior knowledge, what gRPC clients send) or
// anything else (HTTP/1.1). The bytes read stay in the buffer for the
// session that takes the connection.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>

#include "proxy_asio.h"
#include "worker.h"

namespace sluice::proxy {

enum class SniffedProtocol { kHttp1, kHttp2, kGone };

// Reads until the bytes are the preface or cannot be; under the worker's
// header deadline (a client that sends nothing is gone).
Task<SniffedProtocol> sniff_protocol(Worker& w, TcpStream& stream, boost::beast::flat_buffer& buffer);

}  // namespace sluice::proxy
