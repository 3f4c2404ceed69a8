// Listening sockets for thread-per-core servers: each thread opens its own
// listener on the same address with SO_REUSEPORT, and the kernel spreads new
// connections over them, so no lock is shared on the accept path. Used by
// the proxy's workers, its gateway listeners and the test backends.
#pragma once

#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/socket_base.hpp>

#include <string>

#include "result.h"

namespace sluice {

// Opens, binds and listens `acceptor` on `endpoint` with SO_REUSEADDR and
// SO_REUSEPORT. `where` names the listener in the error ("proxy: listen on
// 10.200.0.1:15001"), followed by the step that failed.
template <class Acceptor>
Status listen_reuseport(Acceptor& acceptor, const boost::asio::ip::tcp::endpoint& endpoint, const std::string& where) {
  namespace asio = boost::asio;
  boost::system::error_code ec;
  auto fail = [&](const char* step) { return make_error(-ec.value(), where + ": " + step + ": " + ec.message()); };
  if (acceptor.open(endpoint.protocol(), ec)) return fail("socket");
  if (acceptor.set_option(asio::socket_base::reuse_address(true), ec)) return fail("SO_REUSEADDR");
  using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
  if (acceptor.set_option(ReusePort(true), ec)) return fail("SO_REUSEPORT");
  if (acceptor.bind(endpoint, ec)) return fail("bind");
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec)) return fail("listen");
  return {};
}

}  // namespace sluice
