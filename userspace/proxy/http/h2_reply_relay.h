// A response from an HTTP/2 upstream (h2_upstream_conn.h) relayed to an
// HTTP/1.x client: the head, then each DATA piece as it arrives, chunked
// unless the server gave a Content-Length. Trailers have no place here
// (gRPC clients speak HTTP/2) and are dropped. The upstream's window opens
// again only as the client takes the bytes.
#pragma once

#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>

#include <array>
#include <cstdio>
#include <optional>
#include <string>

#include "h2_upstream_conn.h"
#include "http_head.h"
#include "proxy_limits.h"
#include "streaming_body.h"
#include "upstream_conn.h"
#include "wakeup.h"

namespace sluice::proxy {

// Frames `res` for an HTTP/1.x client of `version`: a body without a
// Content-Length is chunked (HTTP/1.1) or ended by closing (HTTP/1.0:
// `keep_alive` becomes false). A response that ended with its head has no
// body.
inline void frame_h2_reply(StreamResponse& res, const H2UpstreamStream& u, unsigned version, bool& keep_alive) {
  if (res.has_content_length()) return;
  const unsigned status = res.result_int();
  if (u.ended && u.body.empty()) {
    if (status != 204 && status != 304 && status >= 200) res.content_length(0);
  } else if (version >= 11) {
    res.chunked(true);
  } else {
    keep_alive = false;
  }
}

// Writes the head and relays the body; returns the body bytes sent. `ec`:
// the client or the upstream failed (the response is cut).
template <class Stream>
Task<uint64_t> relay_h2_reply(Stream& stream, boost::asio::io_context& ioc, StreamResponse& res, UpstreamReply& up,
                              std::string& head, boost::beast::error_code& ec) {
  namespace asio = boost::asio;
  H2UpstreamStream& u = *up.h2;
  Wakeup wake(ioc);
  u.on_event = [&wake] { wake.notify(); };
  const bool chunked = res.chunked();
  auto& tcp = boost::beast::get_lowest_layer(stream);
  head.clear();
  append_http_head(head, res.base());
  tcp.expires_after(kStreamIdleTimeout);
  co_await asio::async_write(stream, asio::buffer(head), redirect(ec));
  uint64_t sent = 0;
  std::string piece;
  while (!ec && !(u.ended && u.body.empty() && !chunked)) {
    auto until = std::chrono::steady_clock::now() + kStreamIdleTimeout;
    if (up.deadline) until = std::min(until, *up.deadline);
    while (u.body.empty() && !u.ended && !u.closed && std::chrono::steady_clock::now() < until) {
      co_await wake.wait(std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()));
    }
    if (u.body.empty() && !u.ended) {
      ec = u.closed ? boost::beast::error_code(boost::beast::http::error::partial_message)
                    : boost::beast::error_code(boost::beast::error::timeout);
      break;
    }
    piece.swap(u.body);
    u.body.clear();
    up.h2_conn->consume(u, piece.size());
    std::array<char, 24> size_line{};
    std::size_t size_len = 0;
    if (chunked && !piece.empty()) {
      size_len = static_cast<std::size_t>(std::snprintf(size_line.data(), size_line.size(), "%zx\r\n", piece.size()));
    }
    const std::string_view tail = !chunked ? "" : u.ended ? (piece.empty() ? "0\r\n\r\n" : "\r\n0\r\n\r\n") : "\r\n";
    const std::array<asio::const_buffer, 3> out{asio::buffer(size_line.data(), size_len), asio::buffer(piece),
                                                asio::buffer(tail.data(), tail.size())};
    tcp.expires_after(kStreamIdleTimeout);
    co_await asio::async_write(stream, out, redirect(ec));
    sent += piece.size();
    if (u.ended) break;
  }
  u.on_event = nullptr;
  co_return sent;
}

}  // namespace sluice::proxy
