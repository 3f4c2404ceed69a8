#include "h2_upstream_conn.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <string>

#include "attempt.h"
#include "h2_limits.h"
#include "proxy_limits.h"
#include "socket_io.h"
#include "tls_origination.h"

namespace sluice::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;

H2UpstreamConn::H2UpstreamConn(asio::io_context& ioc, TcpStream stream, CircuitBreaker::Guard slot,
                               uint32_t max_requests, std::chrono::milliseconds idle_timeout)
    : stream_(std::move(stream)),
      slot_(std::move(slot)),
      writer_wake_(ioc),
      max_requests_(max_requests),
      idle_timeout_(idle_timeout) {}

Task<void> H2UpstreamConn::originate_tls(const OriginationContext& tls, std::string& failure_reason,
                                         beast::error_code& ec) {
  tls_ = co_await sluice::proxy::originate_tls(stream_, tls, "h2", failure_reason, ec);
}

void H2UpstreamConn::start() {
  stream_.expires_never();  // the connect timeout (and the handshake's) ends here
  asio::co_spawn(stream_.get_executor(), read_loop(shared_from_this()), asio::detached);
  asio::co_spawn(stream_.get_executor(), write_loop(shared_from_this()), asio::detached);
}

bool H2UpstreamConn::usable() const {
  return !dead_ && session_.free_streams() > 0 && (max_requests_ == 0 || requests_ < max_requests_);
}

bool H2UpstreamConn::submit(const Request& req, std::shared_ptr<H2UpstreamStream> stream) {
  RequestBodyPipe* pipe = stream->pipe.get();
  std::weak_ptr<H2UpstreamStream> weak_stream = stream;
  if (!usable() || !session_.submit(req, "http", std::move(stream))) return false;
  if (pipe) {
    // The client's next bytes wake this stream's sending, as long as both live.
    pipe->on_data = [conn = weak_from_this(), st = std::move(weak_stream)] {
      auto c = conn.lock();
      auto s = st.lock();
      if (!c || !s || c->dead_) return;
      if (s->pipe->overrun()) {
        // A mirror's copy dropped for lagging: its server stopped taking
        // DATA, so nghttp2 (held by flow control, not deferred) would not ask
        // for the body again and learn it failed. Reset the stream now, so it
        // does not keep a stream slot on this connection until kMirrorTimeout.
        c->session_.cancel(*s, NGHTTP2_CANCEL);
      } else {
        c->session_.resume(*s);
      }
      c->writer_wake_.notify();
    };
  }
  ++requests_;
  last_used_ = std::chrono::steady_clock::now();
  writer_wake_.notify();
  return true;
}

void H2UpstreamConn::consume(H2UpstreamStream& s, std::size_t n) {
  if (dead_ || n == 0) return;
  session_.consume(s, n);
  writer_wake_.notify();
}

void H2UpstreamConn::finish(H2UpstreamStream& s) {
  s.on_event = nullptr;
  if (s.pipe) s.pipe->on_data = nullptr;  // a retry's attempt may take the pipe next
  last_used_ = std::chrono::steady_clock::now();
  if (dead_) return;
  // A response that ended before the client's piped body did: the rest of
  // the body has nowhere to go, and the stream must not hold its slot.
  if (!s.ended || (s.pipe && !s.pipe->done_at(s.request_sent))) session_.cancel(s, NGHTTP2_CANCEL);
  consume(s, s.body.size());
  s.body.clear();
  // maxRequestsPerConnection reached: the connection ends with its last stream.
  if (max_requests_ != 0 && requests_ >= max_requests_ && session_.open_streams() == 0) close();
  writer_wake_.notify();
}

void H2UpstreamConn::close() { die(); }

bool H2UpstreamConn::spent() const {
  if (dead_) return true;
  const bool full = session_.going_away() || (max_requests_ != 0 && requests_ >= max_requests_);
  return full && session_.open_streams() == 0;
}

bool H2UpstreamConn::idle_for(std::chrono::steady_clock::time_point now) const {
  return session_.open_streams() == 0 && now - last_used_ >= idle_timeout_;
}

void H2UpstreamConn::die() {
  if (dead_) return;
  dead_ = true;
  session_.fail_all(NGHTTP2_INTERNAL_ERROR);
  beast::error_code ignored;
  stream_.socket().shutdown(Socket::shutdown_both, ignored);
  stream_.socket().cancel(ignored);
  writer_wake_.notify();
}

Task<void> H2UpstreamConn::read_loop(std::shared_ptr<H2UpstreamConn> self) {
  std::array<char, kRelayChunkBytes> buf;
  beast::error_code ec;
  while (!self->dead_) {
    std::size_t n = 0;
    // if/else, not ?: : GCC 12 evaluates both arms of a conditional under co_await.
    if (self->tls_) {
      n = co_await self->tls_->async_read_some(asio::buffer(buf), redirect(ec));
    } else {
      n = co_await self->stream_.socket().async_read_some(asio::buffer(buf), redirect(ec));
    }
    if (ec || self->dead_) break;
    const bool ok = self->session_.receive(std::string_view(buf.data(), n));
    self->writer_wake_.notify();  // WINDOW_UPDATE, SETTINGS ACK, a GOAWAY...
    if (!ok) break;
  }
  self->die();
}

Task<void> H2UpstreamConn::write_loop(std::shared_ptr<H2UpstreamConn> self) {
  std::string out;
  beast::error_code ec;
  while (!self->dead_) {
    out.clear();
    if (!self->session_.take_output(out, kH2WriteBatchBytes)) break;
    if (out.empty()) {
      // nghttp2 ended the session (a GOAWAY of ours for the server's
      // protocol or flow-control error went out): the connection is done,
      // and its streams must learn it now, not when the server hangs up.
      if (!self->session_.want_read() && !self->session_.want_write()) break;
      co_await self->writer_wake_.wait();
      continue;
    }
    // TLS: through the ssl_stream (its records); h2c: write_all's direct send.
    if (self->tls_) {
      co_await asio::async_write(*self->tls_, asio::buffer(out), redirect(ec));
    } else {
      co_await write_all(self->stream_.socket(), asio::buffer(out), ec);
    }
    if (ec) break;
  }
  self->die();
}

// Here, where H2UpstreamConn is a complete type.
UpstreamReply::~UpstreamReply() {
  if (h2_conn && h2) h2_conn->finish(*h2);
}

int UpstreamReply::socket_fd() const {
  if (conn) return beast::get_lowest_layer(conn->stream).socket().native_handle();
  return h2_conn ? h2_conn->socket_fd() : -1;
}

}  // namespace sluice::proxy
