#include "attempt.h"

#include <sys/socket.h>

#include <boost/beast/http.hpp>

#include <cstdlib>
#include <limits>

#include "consts.h"
#include "endpoint_picker.h"
#include "h2_attempt.h"
#include "http_head.h"
#include "tls_origination.h"

namespace sluice::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// Sends the request and reads the response headers. A streaming request
// body is relayed from the client first (only the route timeout is not
// running yet then: like Envoy's, it starts once the request is complete).
Task<bool> exchange(UpstreamConn& conn, Request& req, StreamingBody* streaming, UpstreamReply& reply,
                    std::chrono::milliseconds timeout, bool head, uint64_t& streamed, beast::error_code& ec) {
  TcpStream& up = conn.stream;  // plain, or under conn.tls: its expiry bounds both
  if (!streaming) {
    if (timeout.count() > 0) up.expires_after(timeout);
    conn.head.clear();
    append_http_head(conn.head, req.base());
    const std::array<asio::const_buffer, 2> out{asio::buffer(conn.head), asio::buffer(req.body())};
    // if/else, not ?: : GCC 12 evaluates both arms of a conditional under co_await.
    if (conn.tls) {
      co_await asio::async_write(*conn.tls, out, redirect(ec));
    } else {
      co_await asio::async_write(up, out, redirect(ec));
    }
  } else {
    StreamRequest out(req.base());
    if (conn.tls) {
      streamed = co_await streaming->relay_to(*conn.tls, out, req.body(), ec);
    } else {
      streamed = co_await streaming->relay_to(up, out, req.body(), ec);
    }
    if (timeout.count() > 0) up.expires_after(timeout); else up.expires_never();
  }
  if (ec) co_return false;
  for (;;) {
    reply.parser.emplace();
    reply.parser->header_limit(kMaxRequestHeaderBytes);
    reply.parser->body_limit(std::numeric_limits<std::uint64_t>::max());
    reply.parser->skip(head);
    if (conn.tls) {
      co_await http::async_read_header(*conn.tls, conn.buffer, *reply.parser, redirect(ec));
    } else {
      co_await http::async_read_header(up, conn.buffer, *reply.parser, redirect(ec));
    }
    if (ec) co_return false;
    // An interim 1xx (other than 101) precedes the real response: skip it.
    const unsigned status = reply.parser->get().result_int();
    if (status < 100 || status >= 200 || status == 101) break;
  }
  reply.deadline_set = timeout.count() > 0;
  if (!reply.deadline_set) up.expires_never();
  co_return true;
}

}  // namespace

// One exchange with one endpoint. A pooled connection may have been closed
// by the server meanwhile; that shows as an error before any response, so it
// is retried once on a fresh connection without counting as an attempt
// (unless a streamed body has already been consumed).
Task<AttemptOutcome> attempt(Worker& w, const config::Endpoint& ep, Request& req, StreamingBody* streaming,
                             UpstreamReply& reply, const RouteDecision& d,
                             std::optional<RetryClock::time_point> deadline, uint64_t& streamed) {
  // The h2 upstream sends a body held whole, or an h2 client's piped body as
  // it arrives. A large body still on an HTTP/1.1 client connection goes over
  // HTTP/1.1 even to an h2 target (docs/http2.md).
  std::shared_ptr<RequestBodyPipe> pipe = streaming ? streaming->pipe() : nullptr;
  if (d.target->h2 && (!streaming || pipe)) {
    co_return co_await attempt_h2(w, ep, req, pipe, reply, d, deadline);
  }
  const uint64_t id = EndpointPicker::endpoint_id(&ep);
  const OriginationContext* tls = d.target->tls.get();
  const uint64_t tls_id = tls ? tls->id : 0;
  CircuitBreaker& breaker = d.cluster().breaker;
  AttemptOutcome out;
  bool dialed = false;
  for (int fresh = 0; fresh < 2; ++fresh) {
    std::unique_ptr<UpstreamConn> conn = w.pool.take(id, tls_id);
    beast::error_code ec;
    if (!conn) {
      // A new connection needs a slot under maxConnections. Without one the
      // request waits as pending (http1MaxPendingRequests) for a slot or an
      // idle connection, up to the connect timeout; past either limit it
      // overflows (503 UO), as in Envoy.
      std::optional<CircuitBreaker::Guard> slot = breaker.try_connection();
      if (!slot) {
        std::optional<CircuitBreaker::Guard> pending = breaker.try_pending_request();
        if (!pending) {
          out.kind = AttemptOutcome::Kind::kOverflow;
          co_return out;
        }
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(d.target->connect_timeout_ms);
        Timer wait(w.ioc);
        while (!slot && !w.pool.has_idle(id, tls_id) && std::chrono::steady_clock::now() < give_up) {
          wait.expires_after(kPendingPollInterval);
          co_await wait.async_wait(redirect(ec));
          slot = breaker.try_connection();
        }
        if (!slot) conn = w.pool.take(id, tls_id);
        if (!slot && !conn) {
          out.kind = AttemptOutcome::Kind::kOverflow;
          co_return out;
        }
      }
      if (!conn) {
        conn.reset(new UpstreamConn{TcpStream(w.ioc), std::move(*slot)});
        conn->buffer.reserve(kRelayChunkBytes);
        co_await connect_upstream(w, conn->stream, *d.target, ep, ec);
        // The handshake is part of connecting (Envoy's too): under the
        // connect timeout, and a failure is a connect failure (503 UF).
        if (!ec && tls) {
          conn->tls = co_await originate_tls(conn->stream, *tls, "", out.failure_reason, ec);
          conn->tls_id = tls_id;
        }
        conn->stream.expires_never();
        if (ec) {
          out.kind = ec == beast::error::timeout && !tls ? AttemptOutcome::Kind::kPerTryTimeout
                                                         : AttemptOutcome::Kind::kConnectFailure;
          out.request_sent = false;
          co_return out;
        }
        fresh = 1;  // a failure on a new connection is final
        dialed = true;
      }
    }
    std::chrono::milliseconds budget(0);
    if (deadline) {
      budget = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - RetryClock::now());
      if (budget.count() <= 0) budget = std::chrono::milliseconds(1);
    }
    const bool head = req.method() == http::verb::head;
    if (co_await exchange(*conn, req, streaming, reply, budget, head, streamed, ec)) {
      conn->idle_timeout = std::chrono::milliseconds(d.cluster().policy.connection_pool.http_idle_timeout_ms);
      reply.conn = std::move(conn);
      reply.endpoint_id = id;
      reply.tls_id = tls_id;
      reply.max_requests = breaker.max_requests_per_connection();
      reply.new_connection = dialed;
      out.kind = AttemptOutcome::Kind::kResponse;
      const auto& res = reply.parser->get();
      out.status = static_cast<uint16_t>(res.result_int());
      if (auto g = res.find("grpc-status"); g != res.end()) {
        out.grpc_status = static_cast<uint32_t>(std::atoi(std::string(g->value()).c_str()));
      }
      co_return out;
    }
    if (ec == beast::error::timeout) {
      out.kind = AttemptOutcome::Kind::kPerTryTimeout;
      co_return out;
    }
    if (streamed > 0) break;  // the body is gone: no second try
  }
  out.kind = AttemptOutcome::Kind::kReset;
  co_return out;
}

void open_upstream(const Worker& w, Socket& s, bool socket_redirect, beast::error_code& ec) {
  s.open(tcp::v4(), ec);
  if (!ec) s.set_option(tcp::no_delay(true), ec);
  if (!ec && w.options.bypass_mark) {
    const uint32_t mark = w.options.bypass_mark | (socket_redirect ? 0 : SL_MARK_NO_REDIR);
    setsockopt(s.native_handle(), SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
  }
}

Task<std::unique_ptr<UpstreamTlsStream>> originate_tls(TcpStream& tcp, const OriginationContext& tls,
                                                       std::string_view alpn, std::string& failure_reason,
                                                       beast::error_code& ec) {
  if (!tls.error.empty()) {
    failure_reason = "TLS_error: " + tls.error;
    ec = asio::error::no_protocol_option;
    co_return nullptr;
  }
  auto stream = std::make_unique<UpstreamTlsStream>(tcp, tls.ctx);
  SSL* ssl = stream->native_handle();
  if (tls.send_sni && SSL_set_tlsext_host_name(ssl, tls.sni.c_str()) != 1) {
    failure_reason = "TLS_error: bad SNI " + tls.sni;
    ec = asio::error::invalid_argument;
    co_return nullptr;
  }
  // Offered on this connection only, not in the shared context: the same
  // settings serve HTTP/1.1 upstreams, which offer no ALPN.
  const std::string wire = alpn_wire(alpn);
  if (!alpn.empty() &&
      SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(wire.data()), static_cast<unsigned>(wire.size())) != 0) {
    failure_reason = "TLS_error: cannot offer ALPN " + std::string(alpn);
    ec = asio::error::invalid_argument;
    co_return nullptr;
  }
  co_await stream->async_handshake(asio::ssl::stream_base::client, redirect(ec));
  if (ec) {
    failure_reason = tls_failure_reason(ssl, ec);
    co_return nullptr;
  }
  // A server that did not agree to the protocol must not get its bytes: an
  // h2 preface to an HTTP/1.1 server would only fail later and less clearly.
  if (std::string why = alpn_refusal(alpn, alpn_selected(ssl)); !why.empty()) {
    failure_reason = std::move(why);
    ec = asio::error::no_protocol_option;
    co_return nullptr;
  }
  co_return stream;
}

Task<void> connect_upstream(const Worker& w, TcpStream& s, const RouteTarget& target, const config::Endpoint& ep,
                            beast::error_code& ec) {
  open_upstream(w, s.socket(), target.socket_redirect, ec);
  s.expires_after(std::chrono::milliseconds(target.connect_timeout_ms));
  co_await s.async_connect(tcp::endpoint(asio::ip::address_v4(ep.ip), ep.port), redirect(ec));
}

}  // namespace sluice::proxy
