#include "h2_attempt.h"

#include "attempt.h"
#include "endpoint_picker.h"
#include "grpc_status.h"
#include "h2_upstream_conn.h"
#include "tls_origination.h"
#include "wakeup.h"

namespace sluice::proxy {

namespace beast = boost::beast;

namespace {

// A connection with a free stream: a pooled one, or a new one. Without a
// connection slot (maxConnections) or room for another connection to the
// endpoint, the request waits as pending (http1MaxPendingRequests) for
// either, up to the connect timeout, as for HTTP/1.1. Null, with `out`
// set, when there is none.
Task<std::shared_ptr<H2UpstreamConn>> stream_capacity(Worker& w, PoolKey key, const config::Endpoint& ep,
                                                      const RouteDecision& d, AttemptOutcome& out) {
  if (auto conn = w.h2_pool.pick(key)) co_return conn;
  CircuitBreaker& breaker = d.cluster().breaker;
  std::optional<CircuitBreaker::Guard> slot;
  if (w.h2_pool.can_open(key)) slot = breaker.try_connection();
  if (!slot) {
    std::optional<CircuitBreaker::Guard> pending = breaker.try_pending_request();
    if (!pending) {
      out.kind = AttemptOutcome::Kind::kOverflow;
      co_return nullptr;
    }
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(d.target->connect_timeout_ms);
    Timer wait(w.ioc);
    beast::error_code ignored;
    while (std::chrono::steady_clock::now() < give_up) {
      wait.expires_after(kPendingPollInterval);
      co_await wait.async_wait(redirect(ignored));
      if (auto conn = w.h2_pool.pick(key)) co_return conn;
      if (w.h2_pool.can_open(key) && (slot = breaker.try_connection())) break;
    }
    if (!slot) {
      out.kind = AttemptOutcome::Kind::kOverflow;
      co_return nullptr;
    }
  }
  TcpStream s(w.ioc);
  beast::error_code ec;
  co_await connect_upstream(w, s, *d.target, ep, ec);
  const auto& pool = d.cluster().policy.connection_pool;
  auto conn = std::make_shared<H2UpstreamConn>(w.ioc, std::move(s), std::move(*slot), pool.max_requests_per_connection,
                                               std::chrono::milliseconds(pool.http_idle_timeout_ms));
  // The handshake is part of connecting, as on the HTTP/1.1 path: under the
  // same connect timeout, and its failure a connect failure (503 UF).
  const OriginationContext* tls = d.target->tls.get();
  if (!ec && tls) co_await conn->originate_tls(*tls, out.failure_reason, ec);
  if (ec) {
    // Dropped unstarted: not a byte of h2 went out.
    out.kind = ec == beast::error::timeout && !tls ? AttemptOutcome::Kind::kPerTryTimeout
                                                   : AttemptOutcome::Kind::kConnectFailure;
    out.request_sent = false;
    co_return nullptr;
  }
  conn->start();
  w.h2_pool.add(key, conn);
  co_return conn;
}

}  // namespace

Task<AttemptOutcome> attempt_h2(Worker& w, const config::Endpoint& ep, const Request& req,
                                const std::shared_ptr<RequestBodyPipe>& pipe,
                                UpstreamReply& reply, const RouteDecision& d,
                                std::optional<RetryClock::time_point> deadline) {
  const uint64_t id = EndpointPicker::endpoint_id(&ep);
  const PoolKey key{id, d.target->tls ? d.target->tls->id : 0};
  AttemptOutcome out;
  std::shared_ptr<H2UpstreamConn> conn = co_await stream_capacity(w, key, ep, d, out);
  if (!conn) co_return out;
  auto st = std::make_shared<H2UpstreamStream>();
  st->pipe = pipe;  // shared: nghttp2 may read it until the stream is gone
  Wakeup wake(w.ioc);
  st->on_event = [&wake] { wake.notify(); };
  if (!conn->submit(req, st)) {
    // Filled or gone while this one connected: nothing was sent.
    st->on_event = nullptr;
    out.kind = AttemptOutcome::Kind::kRefusedStream;
    out.request_sent = false;
    co_return out;
  }
  while (!st->head_done && !st->closed) {
    if (!deadline) {
      co_await wake.wait();
      continue;
    }
    const auto now = RetryClock::now();
    if (now >= *deadline) break;
    co_await wake.wait(std::chrono::ceil<std::chrono::milliseconds>(*deadline - now));
  }
  if (st->head_done) {
    st->on_event = nullptr;
    out.kind = AttemptOutcome::Kind::kResponse;
    out.status = static_cast<uint16_t>(st->head.result_int());
    if (auto g = st->head.find("grpc-status"); g != st->head.end()) {
      out.grpc_status = parse_grpc_status(std::string_view(g->value().data(), g->value().size()));
    }
    st->keep_unsent_body();
    reply.h2_conn = std::move(conn);
    reply.h2 = std::move(st);
    reply.endpoint_id = id;
    reply.deadline = deadline;
    co_return out;
  }
  st->request_body = {};  // the request does not outlive the attempt
  if (!st->closed) {
    conn->finish(*st);  // RST_STREAM CANCEL: the server may stop working on it
    out.kind = AttemptOutcome::Kind::kPerTryTimeout;
    co_return out;
  }
  st->on_event = nullptr;
  out.kind = st->refused ? AttemptOutcome::Kind::kRefusedStream : AttemptOutcome::Kind::kReset;
  out.request_sent = !st->refused;
  co_return out;
}

}  // namespace sluice::proxy
