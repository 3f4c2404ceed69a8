#include "http_session.h"

#include <sys/socket.h>

#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>

#include <cerrno>
#include <limits>
#include <memory>

#include "body_relay.h"
#include "forwarded_for.h"
#include "h2_reply_relay.h"
#include "h2c_upgrade.h"
#include "http_head.h"
#include "local_reply.h"
#include "request_exchange.h"
#include "streaming_body.h"
#include "websocket_tunnel.h"

namespace sluice::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// Holds a request for `delay` (a filter asked for it). Returns false as soon
// as the client hangs up meanwhile: its side reads end-of-stream or an error.
// Bytes it sends meanwhile (a pipelined request) are left unread, and then
// only the timer ends the hold.
Task<bool> hold(Worker& w, Socket& client, std::chrono::milliseconds delay) {
  struct State {
    explicit State(asio::io_context& ioc) : timer(ioc) {}
    Timer timer;
    bool gone = false;
  };
  auto st = std::make_shared<State>(w.ioc);
  st->timer.expires_after(delay);
  // The handler may run after this frame is gone (with operation_aborted);
  // it touches the socket only when the wait completed, during the hold.
  client.async_wait(Socket::wait_read, [st, &client](const beast::error_code& ec) {
    if (ec) return;
    char byte;
    const ssize_t n = ::recv(client.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
      st->gone = true;
      st->timer.cancel();
    }
  });
  beast::error_code ec;
  co_await st->timer.async_wait(redirect(ec));
  client.cancel(ec);  // the readiness wait, if still pending
  co_return !st->gone;
}

// Reads the request body into `body` while it fits the retry buffer. On
// return the body is complete (parser.is_done()), or larger than the buffer
// with the rest left to stream, or `ec` is set.
template <class Stream>
Task<void> read_request_body(Stream& stream, beast::flat_buffer& buffer, RequestBodyParser& parser, std::string& body,
                             beast::error_code& ec) {
  auto& tcp_layer = beast::get_lowest_layer(stream);
  while (!parser.is_done() && body.size() <= kRetryBufferBytes) {
    const size_t have = body.size();
    // Read one byte past the limit, so that a body of exactly the limit
    // still counts as whole.
    size_t want = kRetryBufferBytes + 1 - have;
    if (auto left = parser.content_length_remaining()) want = std::min<uint64_t>(want, std::max<uint64_t>(*left, 1));
    body.resize(have + want);
    parser.get().body().data = body.data() + have;
    parser.get().body().size = want;
    tcp_layer.expires_after(kStreamIdleTimeout);
    co_await http::async_read(stream, buffer, parser, redirect(ec));
    if (ec == http::error::need_buffer) ec = {};
    body.resize(have + want - parser.get().body().size);
    if (ec) break;
  }
  tcp_layer.expires_never();
}

}  // namespace

// The HTTP/1.1 exchanges of one downstream connection, mesh or gateway,
// plain or TLS.
template <class Stream>
Task<void> serve(Worker& w, Stream& stream, beast::flat_buffer& buffer, const Downstream& ds) {
  beast::error_code ec;
  auto& tcp_layer = beast::get_lowest_layer(stream);
  std::string head;  // a response head being written; its capacity is kept
  for (;;) {
    RequestBodyParser parser;
    parser.header_limit(kMaxRequestHeaderBytes);
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // bodies stream; there is no size limit
    // The sweeper cancels the read at the deadline, rather than tcp_stream's
    // own timeout, which would close the socket before a 408 could be sent.
    HeaderWait wait{w.header_deadline(std::chrono::steady_clock::now()), &tcp_layer.socket()};
    w.header_waits.add(wait);
    co_await http::async_read_header(stream, buffer, parser, redirect(ec));
    w.header_waits.remove(wait);
    if (wait.timed_out) ec = beast::error::timeout;
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset) break;
    if (ec) {
      // Malformed or hostile input: answer, then close. Partial headers are
      // never passed on (no smuggling: Content-Length with
      // Transfer-Encoding, bad chunks and the like are rejected by the parser).
      unsigned status = ec == beast::error::timeout ? 408 : ec == http::error::header_limit ? 431 : 400;
      if (ec != beast::error::timeout || parser.got_some()) {
        Response res = local_reply(status, 11, false);
        tcp_layer.expires_after(std::chrono::seconds(5));
        co_await http::async_write(stream, res, redirect(ec));
      }
      break;
    }

    const auto start = std::chrono::steady_clock::now();
    // The header moves out of the parser; the parser keeps its framing
    // state and goes on reading the body.
    Request req(std::move(parser.get().base()));
    if (!parser.is_done()) {
      // Like Envoy, answer "Expect: 100-continue" here, and do not pass it on.
      if (beast::iequals(req[http::field::expect], "100-continue")) {
        req.erase(http::field::expect);
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        co_await asio::async_write(stream, asio::buffer(kContinue), redirect(ec));
        if (ec) break;
      }
      co_await read_request_body(stream, buffer, parser, req.body(), ec);
      if (ec) {
        // Framing errors get a 400; a client that went away or stalled gets nothing.
        if (ec != beast::error::timeout && ec != asio::error::eof && ec != http::error::partial_message &&
            ec != asio::error::connection_reset) {
          Response res = local_reply(400, 11, false);
          tcp_layer.expires_after(std::chrono::seconds(5));
          co_await http::async_write(stream, res, redirect(ec));
        }
        break;
      }
    }
    if constexpr (std::is_same_v<Stream, TcpStream>) {
      // Mesh traffic only: the Gateway's HTTP/2 (ALPN h2) is a later slice.
      if (parser.is_done() && !ds.gateway_port) {
        if (auto settings = h2c_upgrade_settings(req)) {
          co_await serve_h2c_upgrade(w, stream, buffer, ds, req, *settings);
          co_return;
        }
      }
    }
    // An h2c upgrade not taken (over TLS, at a Gateway, or with a body still
    // to stream) is ignored, as RFC 7540 lets a server do: the request stays
    // HTTP/1.1.
    drop_h2c_upgrade(req);
    StreamingBodyOf<Stream> rest(stream, buffer, parser);
    StreamingBody* streaming = parser.is_done() ? nullptr : &rest;

    bool keep_alive = req.keep_alive();
    const unsigned version = req.version();

    // At the Gateway, who the client is (behind trusted proxies, from
    // X-Forwarded-For), and the forwarded headers the application reads.
    constexpr bool kTls = !std::is_same_v<Stream, TcpStream>;
    const uint32_t remote_ip = gateway_remote_client(req, ds, w.options.gateway_trusted_proxies, kTls ? "https" : "http");

    Exchange ex(w, req, ds, "http", start, remote_ip);
    const bool stays = co_await ex.run_filters(
        [&w, &tcp_layer](std::chrono::milliseconds delay) { return hold(w, tcp_layer.socket(), delay); });
    if (!stays) break;
    RouteDecision& d = ex.decision();
    telemetry::AccessLogEntry& log = ex.log;
    if (!d.local_status && !req[http::field::upgrade].empty() && !streaming) {
      // Upgrade (WebSocket): the connection becomes a byte tunnel to one
      // endpoint and leaves HTTP behind. Over TLS, not yet.
      if constexpr (std::is_same_v<Stream, TcpStream>) {
        log.flags = ex.injected_flags();
        co_await tunnel(w, stream, buffer, req, d, log);
        ex.complete();
        co_return;
      } else {
        d.local_status = 501;
        d.local_body = "upgrade over TLS is not supported\n";
      }
    }
    ForwardResult result = co_await ex.answer(streaming, version, keep_alive);
    // An unread request body cannot be skipped over: the connection ends
    // with this response. So it does while the proxy drains: the client
    // reads `Connection: close` and opens its next connection elsewhere.
    if (!parser.is_done() || w.draining.load(std::memory_order_relaxed)) keep_alive = false;
    if (result.local) {
      Response& res = *result.local;
      res.keep_alive(keep_alive);
      ex.on_response(res.base());
      log.status = res.result_int();
      log.response_bytes = res.body().size();
      co_await http::async_write(stream, res, redirect(ec));
    } else if (result.upstream->h2) {
      UpstreamReply& up = *result.upstream;
      StreamResponse res(std::move(up.head()));
      log.status = res.result_int();
      frame_h2_reply(res, *up.h2, version, keep_alive);
      res.keep_alive(keep_alive);
      ex.on_response(res.base());
      log.response_bytes = co_await relay_h2_reply(stream, w.ioc, res, up, head, ec);
      if (up.h2->has_trailers) ex.on_trailers(up.h2->trailers);  // dropped on the wire, kept in the record
      if (ec) log.flags.set(telemetry::ResponseFlag::kUpstreamProtocolError);
      tcp_layer.expires_never();
    } else {
      UpstreamReply& up = *result.upstream;
      ResponseBodyParser& up_parser = *up.parser;
      StreamResponse res(std::move(up_parser.get().base()));
      log.status = res.result_int();
      if (!up_parser.is_done() && !up_parser.chunked() && !up_parser.content_length()) {
        // The upstream ends its body by closing: re-frame it as chunked, or
        // for an HTTP/1.0 client, end it by closing too.
        if (version >= 11) res.chunked(true); else keep_alive = false;
      } else if (version < 11 && res.chunked()) {
        res.chunked(false);
        keep_alive = false;
      }
      res.keep_alive(keep_alive);
      ex.on_response(res.base());
      // Under a route timeout the upstream stream keeps its deadline for the
      // whole body (Envoy's timeout spans the complete response); otherwise
      // each read has the stream idle timeout.
      const RelayLimits limits{up.deadline_set ? std::nullopt : std::optional<std::chrono::milliseconds>(kStreamIdleTimeout),
                               kStreamIdleTimeout};
      bool complete = true;  // the upstream body was consumed to its end
      if (const auto whole = buffered_body_bytes(up_parser, up.conn->buffer)) {
        // The common case: the whole body came with the headers. One write
        // of the head and the body, straight from the upstream buffer.
        head.clear();
        append_http_head(head, res.base());
        const std::array<asio::const_buffer, 2> out{asio::buffer(head), asio::buffer(up.conn->buffer.data(), *whole)};
        tcp_layer.expires_after(kStreamIdleTimeout);
        co_await asio::async_write(stream, out, redirect(ec));
        up.conn->buffer.consume(*whole);
        log.response_bytes = *whole;
      } else {
        if (up.conn->tls) {  // TLS origination (attempt.h)
          log.response_bytes = co_await relay_body(*up.conn->tls, up.conn->buffer, up_parser, stream, res, {}, limits, ec);
        } else {
          log.response_bytes = co_await relay_body(up.conn->stream, up.conn->buffer, up_parser, stream, res, {}, limits, ec);
        }
        complete = up_parser.is_done();
      }
      if (ec) {
        // Headers are gone already: all that is left is to cut the response.
        log.flags.set(telemetry::ResponseFlag::kUpstreamProtocolError);
      } else {
        w.pool.give_back(up, complete);
      }
      tcp_layer.expires_never();
    }
    ex.complete();
    if (ec || !keep_alive) break;
  }
}

template Task<void> serve<TcpStream>(Worker&, TcpStream&, beast::flat_buffer&, const Downstream&);
template Task<void> serve<beast::ssl_stream<TcpStream>>(Worker&, beast::ssl_stream<TcpStream>&, beast::flat_buffer&,
                                                        const Downstream&);

}  // namespace sluice::proxy
