// Tells the protocol of a plain-text connection from its first bytes: the HTTP/2
// client preface (h2c with prior knowledge, what gRPC clients send) or
// anything else (HTTP/1.1). The bytes read stay in the buffer for the
// session that takes the connection.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>

#include "downstream.h"
#include "proxy_asio.h"
#include "worker.h"

namespace sluice::proxy {

enum class SniffedProtocol { kHttp1, kHttp2, kGone };

// Reads until the bytes are the preface or cannot be; under the worker's
// header deadline (a client that sends nothing is gone).
Task<SniffedProtocol> sniff_protocol(Worker& w, TcpStream& stream, boost::beast::flat_buffer& buffer);

// Serves a plain-text HTTP connection (the mesh port, a Gateway port without
// TLS) by what it starts with: h2c with prior knowledge, or HTTP/1.1 (an
// `Upgrade: h2c` included). Nothing when the client is gone first.
Task<void> serve_sniffed(Worker& w, TcpStream& stream, boost::beast::flat_buffer& buffer, const Downstream& ds);

}  // namespace sluice::proxy
