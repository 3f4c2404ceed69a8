// A downstream request body that did not fit the retry buffer: the part
// already read is in the request's body, the rest is still on the client
// connection (plain or TLS), behind a parser. It can be sent upstream once.
// Mirrors get copies of it as it comes (tee()).
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <memory>
#include <string_view>

#include "body_relay.h"
#include "http_types.h"
#include "proxy_asio.h"
#include "proxy_limits.h"
#include "request_body_pipe.h"
#include "upstream_conn.h"
#include "wakeup.h"

namespace sluice::proxy {

using StreamRequest = boost::beast::http::request<boost::beast::http::buffer_body, Fields>;
using StreamResponse = boost::beast::http::response<boost::beast::http::buffer_body, Fields>;

class StreamingBody {
 public:
  virtual ~StreamingBody() = default;
  // Writes `out`'s header, `first`, then the rest of the body to `up`.
  virtual Task<uint64_t> relay_to(TcpStream& up, StreamRequest& out, std::string_view first,
                                  boost::beast::error_code& ec) = 0;
  // The same to an upstream that originates TLS.
  virtual Task<uint64_t> relay_to(UpstreamTlsStream& up, StreamRequest& out, std::string_view first,
                                  boost::beast::error_code& ec) = 0;
  // An HTTP/2 client's body arriving in DATA frames (request_body_pipe.h),
  // which an HTTP/2 upstream stream takes as it comes; null for a body
  // still on an HTTP/1 connection.
  virtual std::shared_ptr<RequestBodyPipe> pipe() const { return nullptr; }
  // A new attempt can send the whole body again (it still fits the retry buffer).
  virtual bool replayable() const { return false; }
  // A copy of the body for a mirror, fed as the body comes and dropped if
  // its reader falls `lag_budget` behind (RequestBodyPipe::tee); `first` is
  // the part already read (the request's body). Null when there is none to
  // give (the body's first bytes are gone).
  virtual std::shared_ptr<RequestBodyPipe> tee(std::string_view /*first: in the pipe*/, std::size_t lag_budget) {
    const auto p = pipe();
    return p ? p->tee(lag_budget) : nullptr;
  }
  // The request is answered (or failed): whatever still reads the body for
  // its copies stops. Must be awaited before the body's connection is
  // written to by others or goes away, once tee() was called.
  virtual Task<void> release() { co_return; }
};

// An HTTP/2 client's body (its pipe) as a streaming body: an HTTP/2 upstream
// reads the pipe itself; an HTTP/1.1 upstream gets it through relay_to(),
// chunked unless the client gave a Content-Length.
class PipedBody final : public StreamingBody {
 public:
  PipedBody(boost::asio::io_context& ioc, std::shared_ptr<RequestBodyPipe> pipe)
      : ioc_(ioc), pipe_(std::move(pipe)) {}
  // The pipe holds the whole body from its first byte: `first` is in it.
  Task<uint64_t> relay_to(TcpStream& up, StreamRequest& out, std::string_view,
                          boost::beast::error_code& ec) override {
    return relay(up, up, out, ec);
  }
  Task<uint64_t> relay_to(UpstreamTlsStream& up, StreamRequest& out, std::string_view,
                          boost::beast::error_code& ec) override {
    return relay(up, boost::beast::get_lowest_layer(up), out, ec);
  }
  std::shared_ptr<RequestBodyPipe> pipe() const override { return pipe_; }
  bool replayable() const override { return pipe_->replayable(); }

 private:
  // `lowest`: the TCP stream under `up`, whose expiry bounds each write.
  template <class Stream>
  Task<uint64_t> relay(Stream& up, TcpStream& lowest, StreamRequest& out, boost::beast::error_code& ec);

  boost::asio::io_context& ioc_;
  std::shared_ptr<RequestBodyPipe> pipe_;
};

// A body still on an HTTP/1 client connection. Without mirrors it goes from
// the socket to the one attempt, a piece at a time (body_relay.h): nothing
// more. With mirrors (the first tee()), a feed reads it into a
// RequestBodyPipe instead, which the attempt reads as PipedBody does and
// which tees every piece to the copies: the feed reads a piece only when the
// attempt has taken the last one, so the client goes at the attempt's pace
// whatever the mirrors do (a copy that lags is dropped by the pipe).
template <class Stream>
class StreamingBodyOf final : public StreamingBody {
 public:
  StreamingBodyOf(Stream& stream, boost::beast::flat_buffer& buffer, RequestBodyParser& parser)
      : stream_(stream), buffer_(buffer), parser_(parser) {}
  Task<uint64_t> relay_to(TcpStream& up, StreamRequest& out, std::string_view first,
                          boost::beast::error_code& ec) override {
    return relay(up, out, first, ec);
  }
  Task<uint64_t> relay_to(UpstreamTlsStream& up, StreamRequest& out, std::string_view first,
                          boost::beast::error_code& ec) override {
    return relay(up, out, first, ec);
  }
  std::shared_ptr<RequestBodyPipe> tee(std::string_view first, std::size_t lag_budget) override {
    if (!feed_) start_feed(first);
    return feed_->piped.pipe()->tee(lag_budget);
  }
  Task<void> release() override {
    if (!feed_ || feed_->done) co_return;
    feed_->stopping = true;
    if (feed_->reading) boost::beast::get_lowest_layer(stream_).cancel();
    feed_->wake.notify();
    while (!feed_->done) co_await feed_->finished.wait();
  }

 private:
  struct Feed {
    Feed(boost::asio::io_context& ioc, std::shared_ptr<RequestBodyPipe> pipe)
        : piped(ioc, std::move(pipe)), wake(ioc), finished(ioc) {}
    PipedBody piped;  // what the attempt reads
    Wakeup wake;      // the attempt took bytes, or release()
    Wakeup finished;  // the feed ended
    bool reading = false;
    bool stopping = false;
    bool done = false;
  };

  template <class Up>
  Task<uint64_t> relay(Up& up, StreamRequest& out, std::string_view first, boost::beast::error_code& ec) {
    if (feed_) co_return co_await feed_->piped.relay_to(up, out, first, ec);
    const uint64_t n = co_await relay_body(stream_, buffer_, parser_, up, out, first,
                                           RelayLimits{kStreamIdleTimeout, kStreamIdleTimeout}, ec);
    boost::beast::get_lowest_layer(stream_).expires_never();
    co_return n;
  }

  void start_feed(std::string_view first) {
    auto& ioc = boost::beast::get_lowest_layer(stream_).get_executor().context();
    // Past the retry buffer from the start: the pipe keeps only what the
    // attempt has not taken, and the request stays unretriable as without mirrors.
    auto pipe = std::make_shared<RequestBodyPipe>(std::string(first), kRetryBufferBytes);
    feed_ = std::make_unique<Feed>(ioc, pipe);
    pipe->on_taken = [feed = feed_.get()](std::size_t) { feed->wake.notify(); };
    boost::asio::co_spawn(ioc, feed(), boost::asio::detached);
  }

  // Reads the client's body into the pipe, one piece ahead of the attempt.
  Task<void> feed() {
    Feed& f = *feed_;
    RequestBodyPipe& pipe = *f.piped.pipe();
    std::array<char, kRelayChunkBytes> chunk;
    boost::beast::error_code ec;
    while (!f.stopping && !parser_.is_done()) {
      if (pipe.untaken() >= chunk.size()) {
        co_await f.wake.wait();
        continue;
      }
      aim_body_at(parser_, chunk);
      boost::beast::get_lowest_layer(stream_).expires_after(kStreamIdleTimeout);
      f.reading = true;
      co_await boost::beast::http::async_read(stream_, buffer_, parser_, redirect(ec));
      f.reading = false;
      if (ec == boost::beast::http::error::need_buffer) ec = {};
      if (ec) break;
      pipe.append(std::string_view(chunk.data(), body_bytes_read(parser_, chunk)));
    }
    boost::beast::get_lowest_layer(stream_).expires_never();
    // A body cut short (the client left or stalled, or the request was
    // answered first) ends the attempt's copy and the mirrors' as failed.
    if (parser_.is_done()) {
      pipe.end();
    } else {
      pipe.fail();
    }
    pipe.on_taken = nullptr;
    f.done = true;
    f.finished.notify();
  }

  Stream& stream_;
  boost::beast::flat_buffer& buffer_;
  RequestBodyParser& parser_;
  std::unique_ptr<Feed> feed_;  // set once a mirror wants the body
};

}  // namespace sluice::proxy
