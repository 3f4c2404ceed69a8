// The HTTP/2 exchanges of one downstream connection (h2c on the mesh port,
// or h2 chosen by ALPN on a Gateway's HTTPS port): one reader feeding nghttp2, one writer flushing its frames,
// and one coroutine per request stream, all on the worker's io_context.
// Each stream goes through the same steps as an HTTP/1.1 request
// (http/request_exchange.h) to an HTTP/1.1 upstream; its response comes
// back as HEADERS and DATA, the body relayed a piece at a time under
// HTTP/2 flow control.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

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
// Stream: TcpStream (h2c) or beast::ssl_stream<TcpStream> (ALPN h2 at a
// Gateway, after the handshake; the caller then shuts TLS down).
template <class Stream>
Task<void> serve_h2(Worker& w, Stream& stream, boost::beast::flat_buffer& buffer, const Downstream& ds,
                    H2Upgrade* upgrade = nullptr);

extern template Task<void> serve_h2<TcpStream>(Worker&, TcpStream&, boost::beast::flat_buffer&, const Downstream&,
                                               H2Upgrade*);
extern template Task<void> serve_h2<boost::beast::ssl_stream<TcpStream>>(Worker&, boost::beast::ssl_stream<TcpStream>&,
                                                                         boost::beast::flat_buffer&, const Downstream&,
                                                                         H2Upgrade*);

}  // namespace sluice::proxy
