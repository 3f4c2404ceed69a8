#include <boost/asio/write.hpp>

#include <array>
#include <cstdio>
#include <string>

#include "h2_stats.h"
#include "http_head.h"
#include "streaming_body.h"
#include "wakeup.h"

namespace sluice::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// The header, then each piece as the client sends it: chunked (the request
// trailers, if any, in the last chunk), or as they come under the client's
// Content-Length (trailers have no place there: dropped and counted). A
// client that sends nothing for the stream idle timeout, or resets its
// stream, cuts the body (the upstream sees it incomplete and the attempt
// fails).
template <class Stream>
Task<uint64_t> PipedBody::relay(Stream& up, TcpStream& lowest, StreamRequest& out, beast::error_code& ec) {
  // The pipe holds the whole body, from its first byte: the caller's
  // `first` is not sent again.
  const bool chunked = !out.has_content_length();
  if (chunked) out.chunked(true);
  Wakeup wake(ioc_);
  pipe_->on_data = [&wake] { wake.notify(); };
  std::string head;
  append_http_head(head, out.base());
  lowest.expires_after(kStreamIdleTimeout);
  co_await asio::async_write(up, asio::buffer(head), redirect(ec));
  std::array<char, kRelayChunkBytes> chunk;
  uint64_t at = 0;
  while (!ec) {
    std::size_t n = pipe_->read(at, chunk.data(), chunk.size());
    if (n == 0 && !pipe_->done_at(at)) {
      if (pipe_->failed() || pipe_->lost(at)) {
        ec = http::error::partial_message;
        break;
      }
      const auto until = std::chrono::steady_clock::now() + kStreamIdleTimeout;
      while ((n = pipe_->read(at, chunk.data(), chunk.size())) == 0 && !pipe_->done_at(at) && !pipe_->failed() &&
             std::chrono::steady_clock::now() < until) {
        co_await wake.wait(std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()));
      }
      if (n == 0 && !pipe_->done_at(at)) {
        ec = pipe_->failed() ? beast::error_code(http::error::partial_message) : beast::error_code(beast::error::timeout);
        break;
      }
    }
    at += n;
    const bool last = pipe_->done_at(at);
    std::array<char, 24> size_line{};
    std::size_t size_len = 0;
    std::string tail;
    if (chunked) {
      if (n > 0) size_len = static_cast<std::size_t>(std::snprintf(size_line.data(), size_line.size(), "%zx\r\n", n));
      if (n > 0) tail = "\r\n";
      if (last) {
        tail += "0\r\n";
        if (const Fields* trailers = pipe_->trailers()) {
          for (const auto& f : *trailers) {
            tail.append(f.name_string().data(), f.name_string().size()).append(": ");
            tail.append(f.value().data(), f.value().size()).append("\r\n");
          }
        }
        tail += "\r\n";
      }
    } else if (last && pipe_->trailers()) {
      H2Stats::add(H2Stats::global().request_trailers_dropped);
    }
    const std::array<asio::const_buffer, 3> pieces{asio::buffer(size_line.data(), size_len), asio::buffer(chunk.data(), n),
                                                   asio::buffer(tail)};
    lowest.expires_after(kStreamIdleTimeout);
    co_await asio::async_write(up, pieces, redirect(ec));
    if (last) break;
  }
  pipe_->on_data = nullptr;
  co_return at;
}

template Task<uint64_t> PipedBody::relay(TcpStream&, TcpStream&, StreamRequest&, beast::error_code&);
template Task<uint64_t> PipedBody::relay(UpstreamTlsStream&, TcpStream&, StreamRequest&, beast::error_code&);

}  // namespace sluice::proxy
