#include <boost/beast/http.hpp>

#include <array>

#include "streaming_body.h"
#include "wakeup.h"

namespace sluice::proxy {

namespace beast = boost::beast;
namespace http = beast::http;

// The header, then each piece as the client sends it. A client that sends
// nothing for the stream idle timeout, or resets its stream, cuts the body
// (the upstream sees it incomplete and the attempt fails).
template <class Stream>
Task<uint64_t> PipedBody::relay(Stream& up, TcpStream& lowest, StreamRequest& out, beast::error_code& ec) {
  // The pipe holds the whole body, from its first byte: the caller's
  // `first` is not sent again.
  if (!out.has_content_length()) out.chunked(true);
  Wakeup wake(ioc_);
  pipe_->on_data = [&wake] { wake.notify(); };
  http::request_serializer<http::buffer_body, Fields> sr(out);
  std::array<char, kRelayChunkBytes> chunk;
  uint64_t at = 0;
  do {
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
    out.body().data = n ? chunk.data() : nullptr;
    out.body().size = n;
    out.body().more = !pipe_->done_at(at);
    lowest.expires_after(kStreamIdleTimeout);
    co_await http::async_write(up, sr, redirect(ec));
    if (ec == http::error::need_buffer) ec = {};
  } while (!ec && !sr.is_done());
  pipe_->on_data = nullptr;
  co_return at;
}

template Task<uint64_t> PipedBody::relay(TcpStream&, TcpStream&, StreamRequest&, beast::error_code&);
template Task<uint64_t> PipedBody::relay(UpstreamTlsStream&, TcpStream&, StreamRequest&, beast::error_code&);

}  // namespace sluice::proxy
