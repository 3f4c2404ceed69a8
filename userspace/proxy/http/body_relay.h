// Streams an HTTP/1 message body from one connection to another, a piece at
// a time, through Beast's buffer_body: the parser on the reading side fills
// a fixed chunk, and the serializer on the writing side sends it (in the
// framing of the outgoing header: Content-Length, chunked, or until close).
// Nothing bigger than one chunk is ever held.
#pragma once

#include "proxy_asio.h"
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "proxy_limits.h"

namespace sluice::proxy {

struct RelayLimits {
  // Each read from / write to the stream must finish within this; nullopt
  // leaves the stream's own expiry (e.g. a route deadline) in force.
  std::optional<std::chrono::milliseconds> read_idle;
  std::optional<std::chrono::milliseconds> write_idle;
};

// A body read through a buffer_body parser lands in `chunk`: aim the parser
// at it before each read; after the read, body_bytes_read() says how much
// came (0 for a read that brought no body bytes, a chunk header say).
template <class Parser, std::size_t N>
void aim_body_at(Parser& parser, std::array<char, N>& chunk) {
  parser.get().body().data = chunk.data();
  parser.get().body().size = chunk.size();
}
template <class Parser, std::size_t N>
std::size_t body_bytes_read(const Parser& parser, const std::array<char, N>& chunk) {
  return chunk.size() - parser.get().body().size;
}

// Writes the header of `out` (the first write), then `first` (body bytes
// already read), then the rest of the body as the parser `in_parser` reads
// it from `in`. Returns the body bytes written. On return without error the
// outgoing message is complete; an error leaves both sides mid-message, and
// the caller must close them.
// The streams are Beast tcp_streams or TLS streams over them.
template <bool isRequest, class InStream, class OutStream, class Allocator>
Task<uint64_t> relay_body(InStream& in, boost::beast::flat_buffer& in_buffer,
                                            boost::beast::http::parser<isRequest, boost::beast::http::buffer_body, Allocator>& in_parser,
                                            OutStream& out,
                                            boost::beast::http::message<isRequest, boost::beast::http::buffer_body,
                                                                        boost::beast::http::basic_fields<Allocator>>& out_msg,
                                            std::string_view first, const RelayLimits& limits,
                                            boost::beast::error_code& ec) {
  namespace asio = boost::asio;
  namespace http = boost::beast::http;
  http::serializer<isRequest, http::buffer_body, http::basic_fields<Allocator>> sr(out_msg);
  std::array<char, kRelayChunkBytes> chunk;
  uint64_t sent = 0;
  bool pending_first = !first.empty();
  do {
    size_t n = 0;
    if (pending_first) {
      out_msg.body().data = const_cast<char*>(first.data());
      n = first.size();
      pending_first = false;
    } else if (!in_parser.is_done()) {
      aim_body_at(in_parser, chunk);
      if (limits.read_idle) boost::beast::get_lowest_layer(in).expires_after(*limits.read_idle);
      co_await http::async_read(in, in_buffer, in_parser, redirect(ec));
      if (ec == http::error::need_buffer) ec = {};
      if (ec) co_return sent;
      n = body_bytes_read(in_parser, chunk);
      // A read that produced no body bytes (a chunk header, say) has
      // nothing to send yet: an empty chunk would end a chunked body.
      if (n == 0 && !in_parser.is_done()) continue;
      out_msg.body().data = chunk.data();
    } else {
      out_msg.body().data = nullptr;
    }
    out_msg.body().size = n;
    out_msg.body().more = !in_parser.is_done() || pending_first;
    if (limits.write_idle) boost::beast::get_lowest_layer(out).expires_after(*limits.write_idle);
    co_await http::async_write(out, sr, redirect(ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return sent;
    sent += n;
  } while (!sr.is_done());
  co_return sent;
}

}  // namespace sluice::proxy
