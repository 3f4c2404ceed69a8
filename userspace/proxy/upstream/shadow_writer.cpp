#include "shadow_writer.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/beast/http.hpp>

#include "attempt.h"
#include "h2_attempt.h"
#include "h2_upstream_conn.h"
#include "mirror_stats.h"
#include "wakeup.h"

namespace sluice::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

MirrorStats& stats() { return MirrorStats::global(); }

// A copy that ended early, unless it was dropped for lagging (counted then).
void count_failure(const AttemptOutcome& o, const RequestBodyPipe* body) {
  if (body && body->overrun()) return;
  switch (o.kind) {
    case AttemptOutcome::Kind::kOverflow: MirrorStats::add(stats().overflow); break;
    case AttemptOutcome::Kind::kConnectFailure: MirrorStats::add(stats().connect_failure); break;
    case AttemptOutcome::Kind::kPerTryTimeout: MirrorStats::add(stats().timeout); break;
    default: MirrorStats::add(stats().reset); break;
  }
}

std::string shadow_host(const Request& req) {
  const std::string host(req[http::field::host]);
  const size_t colon = host.rfind(':');
  return colon == std::string::npos ? host + "-shadow" : host.substr(0, colon) + "-shadow" + host.substr(colon);
}

// Over HTTP/1.1: one copy on a connection of its own that closes after the
// response headers. A piped body goes chunked (or with the client's
// Content-Length) as it comes.
Task<void> shadow_http1(Worker& w, Request copy, std::shared_ptr<RequestBodyPipe> body, MirrorTarget target,
                        config::SnapshotPtr keep) {
  TcpStream stream(w.ioc);
  beast::error_code ec;
  copy.keep_alive(false);
  co_await connect_upstream(w, stream, *target.target, *target.endpoint, ec);
  if (ec) {
    AttemptOutcome o;
    o.kind = ec == beast::error::timeout ? AttemptOutcome::Kind::kPerTryTimeout : AttemptOutcome::Kind::kConnectFailure;
    count_failure(o, body.get());
    co_return;
  }
  stream.expires_after(kMirrorTimeout);
  if (!body) {
    co_await http::async_write(stream, copy, redirect(ec));
  } else {
    // A copy dropped for lagging also ends a write stuck on a mirror that
    // stopped reading.
    body->on_overrun = [&stream, count = std::move(body->on_overrun)] {
      if (count) count();
      stream.cancel();
    };
    StreamRequest out(copy.base());
    co_await PipedBody(w.ioc, body).relay_to(stream, out, {}, ec);
    body->on_overrun = nullptr;
    stream.expires_after(kMirrorTimeout);
  }
  if (!ec) {
    // The response is discarded: wait for its headers, then hang up.
    beast::flat_buffer buf;
    http::response_parser<http::empty_body> discard;
    co_await http::async_read_header(stream, buf, discard, redirect(ec));
  }
  if (ec) {
    AttemptOutcome o;
    o.kind = ec == beast::error::timeout ? AttemptOutcome::Kind::kPerTryTimeout : AttemptOutcome::Kind::kReset;
    count_failure(o, body.get());
  }
  (void)keep;  // the endpoint lives in this snapshot
}

// Over HTTP/2: a stream on the worker's pooled connections to the mirror
// endpoint, under the mirror cluster's breaker. The response is read and
// thrown away until the stream ends, so a body still going out is sent
// whole and the server's DATA never holds the connection's window.
Task<void> shadow_http2(Worker& w, Request copy, std::shared_ptr<RequestBodyPipe> body, MirrorTarget target,
                        config::SnapshotPtr keep) {
  RouteDecision md;
  md.snapshot = std::move(keep);
  md.endpoint = target.endpoint;
  md.target = target.target;
  const auto deadline = RetryClock::now() + kMirrorTimeout;
  UpstreamReply reply;
  const AttemptOutcome out = co_await attempt_h2(w, *target.endpoint, copy, body, reply, md, deadline);
  if (out.kind != AttemptOutcome::Kind::kResponse) {
    count_failure(out, body.get());
    co_return;
  }
  H2UpstreamStream& st = *reply.h2;
  Wakeup wake(w.ioc);
  st.on_event = [&wake] { wake.notify(); };
  while (!st.closed) {
    reply.h2_conn->consume(st, st.body.size());
    st.body.clear();
    const auto now = RetryClock::now();
    if (now >= deadline) break;
    co_await wake.wait(std::chrono::ceil<std::chrono::milliseconds>(deadline - now));
  }
  st.on_event = nullptr;
  if (!st.closed || !st.ended) {
    AttemptOutcome o;
    o.kind = st.closed ? AttemptOutcome::Kind::kReset : AttemptOutcome::Kind::kPerTryTimeout;
    count_failure(o, body.get());
  }
}

}  // namespace

void send_shadows(Worker& w, const Request& req, StreamingBody* streaming, const RouteDecision& d) {
  if (!d.route || (!d.route->spec->has_mirror() && d.route->spec->mirrors_size() == 0)) return;
  for (const MirrorTarget& m : w.router.mirror_endpoints(d, d.original_port)) {
    std::shared_ptr<RequestBodyPipe> body;
    if (streaming) {
      // An h2 client's pipe, or an HTTP/1 client's body from now on read
      // through one (streaming_body.h): each copy gets the body as it comes.
      body = streaming->tee(req.body(), kMirrorLagBudgetBytes);
      if (!body) {
        MirrorStats::add(stats().body_unavailable);
        continue;
      }
      body->on_overrun = [] { MirrorStats::add(stats().lagging); };
    }
    Request copy(req.base());
    if (!streaming) copy.body() = req.body();
    copy.set(http::field::host, shadow_host(req));
    if (m.target->h2) {
      MirrorStats::add(stats().sent_http2);
      asio::co_spawn(w.ioc, shadow_http2(w, std::move(copy), std::move(body), m, d.snapshot), asio::detached);
    } else {
      MirrorStats::add(stats().sent_http1);
      asio::co_spawn(w.ioc, shadow_http1(w, std::move(copy), std::move(body), m, d.snapshot), asio::detached);
    }
  }
}

}  // namespace sluice::proxy
