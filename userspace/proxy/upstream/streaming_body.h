// A downstream request body that did not fit the retry buffer: the part
// already read is in the request's body, the rest is still on the client
// connection (plain or TLS), behind a parser. It can be sent upstream once.
#pragma once

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <memory>
#include <string_view>

#include "body_relay.h"
#include "http_types.h"
#include "proxy_asio.h"
#include "proxy_limits.h"
#include "request_body_pipe.h"
#include "upstream_conn.h"

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

 private:
  template <class Up>
  Task<uint64_t> relay(Up& up, StreamRequest& out, std::string_view first, boost::beast::error_code& ec) {
    const uint64_t n = co_await relay_body(stream_, buffer_, parser_, up, out, first,
                                           RelayLimits{kStreamIdleTimeout, kStreamIdleTimeout}, ec);
    boost::beast::get_lowest_layer(stream_).expires_never();
    co_return n;
  }

  Stream& stream_;
  boost::beast::flat_buffer& buffer_;
  RequestBodyParser& parser_;
};

}  // namespace sluice::proxy
