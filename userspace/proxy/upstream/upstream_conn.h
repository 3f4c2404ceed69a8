// An upstream HTTP/1 connection and a response being read from it.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "circuit_breaker.h"
#include "h2_upstream_stream.h"
#include "http_types.h"
#include "proxy_asio.h"

namespace sluice::proxy {

// TLS origination's stream, over the connection's own TcpStream (whose
// expiry keeps bounding every read and write). Beast's ssl_stream gathers a
// write's buffers into one TLS record where asio's alone would make one each.
using UpstreamTlsStream = boost::beast::ssl_stream<TcpStream&>;

// What upstream pools key connections on: the endpoint and the TLS setting
// (OriginationContext::id, 0 for plain), so a plain and a TLS connection to
// one address, or two TLS settings, never mix.
struct PoolKey {
  uint64_t endpoint;
  uint64_t tls;
  bool operator==(const PoolKey&) const = default;
};
struct PoolKeyHash {
  size_t operator()(const PoolKey& k) const { return std::hash<uint64_t>()(k.endpoint ^ (k.tls * 0x9e3779b97f4a7c15ULL)); }
};

// An upstream connection with the circuit-breaker slot it holds.
struct UpstreamConn {
  TcpStream stream;
  CircuitBreaker::Guard slot;
  // Set when the destination originates TLS: then every byte goes through
  // it. Plain connections pay one null check per read or write, nothing more.
  std::unique_ptr<UpstreamTlsStream> tls;
  uint64_t tls_id = 0;  // OriginationContext::id; 0: plain
  // Kept with the connection, so a response is read in one or two reads,
  // not a series starting from a fresh 512-byte buffer.
  boost::beast::flat_buffer buffer;
  uint32_t requests = 0;
  std::chrono::steady_clock::time_point idle_since{};
  std::chrono::milliseconds idle_timeout{0};  // connectionPool.http.idleTimeout of its cluster
  std::string head;  // the serialized head of the request being sent; its capacity is kept
};

class H2UpstreamConn;

// An upstream response whose headers have arrived; its body is still to be
// relayed: from `conn` and `parser` (HTTP/1.1), or from the `h2` stream of
// `h2_conn` (HTTP/2).
struct UpstreamReply {
  UpstreamReply() = default;
  // An HTTP/2 stream not relayed to its end is cancelled (a retried
  // response, a client gone), and its window given back.
  ~UpstreamReply();
  UpstreamReply(const UpstreamReply&) = delete;
  UpstreamReply& operator=(const UpstreamReply&) = delete;

  std::unique_ptr<UpstreamConn> conn;
  std::optional<ResponseBodyParser> parser;  // a new one per response read
  uint64_t endpoint_id = 0;
  uint64_t tls_id = 0;        // with endpoint_id, the pool the connection goes back to
  uint32_t max_requests = 0;  // maxRequestsPerConnection of its cluster; 0 = unlimited
  bool deadline_set = false;  // the connection's expiry is the route/try deadline
  bool new_connection = false;  // dialed for this attempt: its handshake was part of the wait
  std::shared_ptr<H2UpstreamConn> h2_conn;
  std::shared_ptr<H2UpstreamStream> h2;
  // HTTP/2: the route or try deadline, which bounds the body as well.
  std::optional<std::chrono::steady_clock::time_point> deadline;

  // The upstream socket (for TCP_INFO), or -1.
  int socket_fd() const;

  boost::beast::http::response_header<Fields>& head() { return h2 ? h2->head : parser->get().base(); }
};

// The size of a response body that is already whole in `buffer` behind its
// parsed header: none (0), or all of a Content-Length body. Otherwise (a
// chunked body, one ended by close, or one still arriving) nullopt.
inline std::optional<uint64_t> buffered_body_bytes(const ResponseBodyParser& p,
                                                   const boost::beast::flat_buffer& buffer) {
  if (p.is_done()) return 0;
  if (p.chunked() || !p.content_length()) return std::nullopt;
  const auto left = p.content_length_remaining();
  if (!left || *left > buffer.size()) return std::nullopt;
  return *left;
}

// What a forwarded request produced: a reply made here, or an upstream reply.
struct ForwardResult {
  std::optional<Response> local;
  std::unique_ptr<UpstreamReply> upstream;
};

}  // namespace sluice::proxy
