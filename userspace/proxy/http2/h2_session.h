// The HTTP/2 exchanges of one downstream mesh connection (h2c with prior
// knowledge): one reader feeding nghttp2, one writer flushing its frames,
// and one coroutine per request stream, all on the worker's io_context.
// Each stream goes through the same steps as an HTTP/1.1 request
// (http/request_exchange.h) to an HTTP/1.1 upstream; its response comes
// back as HEADERS and DATA, the body relayed a piece at a time under
// HTTP/2 flow control.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>

#include <memory>
#include <string>

#include "downstream.h"
#include "h2_stream.h"
#include "proxy_asio.h"
#include "worker.h"

namespace sluice::proxy {

// An HTTP/1.1 request that asked for h2c (h2c_upgrade.h): stream 1, and the
// client's SETTINGS from its HTTP2-Settings field.
struct H2Upgrade {
  std::shared_ptr<H2Stream> first;
  std::string settings;
};

// `buffer` holds the bytes read so far (the client preface, or what came
// after an upgrade request). Returns once the connection is over and every
// stream's coroutine ended. `upgrade` (taken from) is a pointer, not an
// optional by value: GCC 12 destroys a coroutine's by-value parameter built
// from a temporary twice.
Task<void> serve_h2(Worker& w, TcpStream& stream, boost::beast::flat_buffer& buffer, const Downstream& ds,
                    H2Upgrade* upgrade = nullptr);

}  // namespace sluice::proxy
