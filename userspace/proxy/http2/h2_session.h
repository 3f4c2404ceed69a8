// The HTTP/2 exchanges of one downstream mesh connection (h2c with prior
// knowledge): one reader feeding nghttp2, one writer flushing its frames,
// and one coroutine per request stream, all on the worker's io_context.
// Each stream goes through the same steps as an HTTP/1.1 request
// (http/request_exchange.h) to an HTTP/1.1 upstream; its response comes
// back as HEADERS and DATA, the body relayed a piece at a time under
// HTTP/2 flow control.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>

#include "downstream.h"
#include "proxy_asio.h"
#include "worker.h"

namespace sluice::proxy {

// `buffer` holds the bytes read so far (the client preface at least).
// Returns once the connection is over and every stream's coroutine ended.
Task<void> serve_h2(Worker& w, TcpStream& stream, boost::beast::flat_buffer& buffer, const Downstream& ds);

}  // namespace sluice::proxy
