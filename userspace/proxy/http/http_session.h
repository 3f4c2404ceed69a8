// The HTTP/1.1 exchanges of one downstream connection, mesh or gateway,
// plain or TLS: read a request, route it, run the request filters, forward
// it (upstream/retry_loop.h) or answer locally, relay the response, record
// the completion. The session knows no feature by name: per-request
// features are filters or router/upstream policies.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "downstream.h"
#include "worker.h"

namespace sluice::proxy {

// Stream: TcpStream or beast::ssl_stream<TcpStream> (instantiated for both).
template <class Stream>
Task<void> serve(Worker& w, Stream& stream, boost::beast::flat_buffer& buffer, const Downstream& ds);

extern template Task<void> serve<TcpStream>(Worker&, TcpStream&, boost::beast::flat_buffer&, const Downstream&);
extern template Task<void> serve<boost::beast::ssl_stream<TcpStream>>(Worker&, boost::beast::ssl_stream<TcpStream>&,
                                                                      boost::beast::flat_buffer&, const Downstream&);

}  // namespace sluice::proxy
