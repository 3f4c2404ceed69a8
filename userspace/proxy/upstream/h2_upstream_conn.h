// One multiplexed HTTP/2 connection to an endpoint: the socket (h2c, or h2
// over TLS when the destination originates TLS), the nghttp2
// client session, and the two coroutines that move bytes (a reader and the
// only writer). Shared by the requests whose streams it carries and by the
// worker's pool (h2_upstream_pool.h); it lives until the last of them lets
// go and its coroutines end.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "circuit_breaker.h"
#include "h2_client_session.h"
#include "proxy_asio.h"
#include "upstream_conn.h"
#include "wakeup.h"

namespace sluice::proxy {

struct OriginationContext;  // tls_origination.h

class H2UpstreamConn : public std::enable_shared_from_this<H2UpstreamConn> {
 public:
  // `stream` is connected. `max_requests`: maxRequestsPerConnection (0:
  // unlimited); `idle_timeout`: connectionPool.http.idleTimeout.
  H2UpstreamConn(boost::asio::io_context& ioc, TcpStream stream, CircuitBreaker::Guard slot, uint32_t max_requests,
                 std::chrono::milliseconds idle_timeout);
  // Before start(), for a destination that originates TLS: the handshake,
  // offering ALPN h2, under the expiry the stream has (the connect
  // timeout). A failure (the server did not select h2 included) sets ec and
  // `failure_reason`; the connection must then be dropped unstarted.
  Task<void> originate_tls(const OriginationContext& tls, std::string& failure_reason, boost::beast::error_code& ec);
  // Starts the reader and the writer on the worker.
  void start();

  // The connection can take one more stream now.
  bool usable() const;
  bool alive() const { return !dead_; }
  // Opens a stream for `req` (body whole). False: it cannot, right now.
  bool submit(const Request& req, std::shared_ptr<H2UpstreamStream> stream);
  // The relay handed `n` bytes of the stream's DATA on.
  void consume(H2UpstreamStream& s, std::size_t n);
  // The stream's consumer is done with it: a stream not ended is cancelled,
  // DATA it did not take gives its window back.
  void finish(H2UpstreamStream& s);
  // Closes the connection; its open streams fail.
  void close();
  // It will take no more streams (closed, GOAWAY, maxRequestsPerConnection)
  // and carries none: the pool lets it go.
  bool spent() const;
  // No stream open since this long.
  bool idle_for(std::chrono::steady_clock::time_point now) const;
  int socket_fd() { return stream_.socket().native_handle(); }

 private:
  static Task<void> read_loop(std::shared_ptr<H2UpstreamConn> self);
  static Task<void> write_loop(std::shared_ptr<H2UpstreamConn> self);
  void die();

  TcpStream stream_;
  // Over stream_ (declared after it, so gone first). Null: h2c, whose reads
  // and writes go to the socket as before, behind one null check.
  std::unique_ptr<UpstreamTlsStream> tls_;
  CircuitBreaker::Guard slot_;  // its place under maxConnections
  H2ClientSession session_;
  Wakeup writer_wake_;
  const uint32_t max_requests_;
  const std::chrono::milliseconds idle_timeout_;
  uint32_t requests_ = 0;
  std::chrono::steady_clock::time_point last_used_ = std::chrono::steady_clock::now();
  bool dead_ = false;
};

}  // namespace sluice::proxy
