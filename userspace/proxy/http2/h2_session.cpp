#include "h2_session.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "forwarded_for.h"
#include "h2_connection.h"
#include "h2_limits.h"
#include "h2_stats.h"
#include "h2_upstream_conn.h"
#include "local_reply.h"
#include "request_exchange.h"
#include "socket_io.h"
#include "streaming_body.h"
#include "wakeup.h"

namespace sluice::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// A writer stalled this long on a connection already being closed (a client
// that stopped reading) is cut off.
constexpr std::chrono::seconds kClosingWriteStall{5};

// Stream: TcpStream (h2c on the mesh port) or an ssl_stream over it (ALPN
// h2 at a Gateway). nghttp2 sees bytes either way; only the reads and
// writes go through the stream.
template <class Stream>
struct H2Session {
  H2Session(Worker& worker, Stream& str, const Downstream& downstream)
      : w(worker),
        stream(str),
        socket(beast::get_lowest_layer(str).socket()),
        ds(downstream),
        writer_wake(worker.ioc),
        watch_wake(worker.ioc),
        done_wake(worker.ioc),
        conn([this](std::shared_ptr<H2Stream> s) { ready.push_back(std::move(s)); }) {}

  Worker& w;
  Stream& stream;
  Socket& socket;  // the TCP socket under `stream`: cancel and shutdown
  const Downstream& ds;
  Wakeup writer_wake;  // frames to send, or the end
  Wakeup watch_wake;   // the end, for the watchdog
  Wakeup done_wake;    // a task (writer, watchdog, stream) ended
  H2Connection conn;
  std::vector<std::shared_ptr<H2Stream>> ready;  // requests made whole by the last receive()
  std::size_t tasks = 0;     // coroutines referring to this session
  std::size_t handlers = 0;  // of which stream handlers
  bool closing = false;      // reading is over: send what is left, then close
  bool writing = false;
  std::chrono::steady_clock::time_point write_since{};
  std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();  // the last write done
};

// Runs `task` on the worker, counted, so the session outlives it.
template <class Stream>
void spawn_counted(H2Session<Stream>& s, Task<void> task, bool handler) {
  ++s.tasks;
  if (handler) ++s.handlers;
  asio::co_spawn(s.w.ioc, std::move(task), [&s, handler](std::exception_ptr) {
    --s.tasks;
    if (handler) --s.handlers;
    s.done_wake.notify();
  });
}

// Gives a stream's coroutine a wake-up for its stream's progress, for as
// long as the coroutine lives.
class ProgressHook {
 public:
  ProgressHook(H2Stream& st, Wakeup& wake) : st_(st) {
    st_.on_progress = [&wake] { wake.notify(); };
  }
  ~ProgressHook() { st_.on_progress = nullptr; }
  ProgressHook(const ProgressHook&) = delete;
  ProgressHook& operator=(const ProgressHook&) = delete;

 private:
  H2Stream& st_;
};

// While a stream's handler runs, its piped request body gives the client's
// window back as the upstream takes it. When the handler ends (the response
// is over) a body still arriving has nowhere to go: it is cut (later DATA is
// dropped as it comes), what was never taken is given back to the
// connection, and the stream is reset with NO_ERROR (RFC 9113 8.1 lets a
// server that answered stop reading).
template <class Stream>
class BodyWindowHook {
 public:
  BodyWindowHook(H2Session<Stream>& s, H2Stream& st) : s_(s), st_(st) {
    if (!st_.body_pipe) return;
    st_.body_pipe->on_taken = [session = &s, id = st.id](std::size_t n) {
      session->conn.consume(id, n);
      session->writer_wake.notify();
    };
  }
  ~BodyWindowHook() {
    RequestBodyPipe* pipe = st_.body_pipe.get();
    if (!pipe) return;
    pipe->on_taken = nullptr;
    if (pipe->ended() || pipe->failed()) return;
    pipe->fail();
    s_.conn.consume(st_.id, pipe->untaken());
    // Not before the response's last DATA is on its way: a reset would overtake it.
    if (st_.out_drained()) s_.conn.reset(st_, NGHTTP2_NO_ERROR);
    s_.writer_wake.notify();
  }
  BodyWindowHook(const BodyWindowHook&) = delete;
  BodyWindowHook& operator=(const BodyWindowHook&) = delete;

 private:
  H2Session<Stream>& s_;
  H2Stream& st_;
};

// A response made here (a reject, a route or filter answer), body and all.
template <class Stream>
void send_local(H2Session<Stream>& s, H2Stream& st, const Response& res) {
  s.conn.respond(st, res.result_int(), res.base(), !res.body().empty());
  if (!res.body().empty()) s.conn.push_body(st, res.body(), true);
  s.writer_wake.notify();
}

// Relays an upstream response: HEADERS now, then DATA a piece at a time;
// the next piece is read from upstream only once nghttp2 has taken the last
// one, so a slow client holds back the upstream read, not our memory.
template <class Stream>
Task<void> relay_upstream(H2Session<Stream>& s, H2Stream& st, Wakeup& progress, Exchange& ex, UpstreamReply& up) {
  ResponseBodyParser& parser = *up.parser;
  ex.on_response(parser.get().base());
  ex.log.status = parser.get().result_int();
  if (const auto whole = buffered_body_bytes(parser, up.conn->buffer)) {
    s.conn.respond(st, parser.get().result_int(), parser.get().base(), *whole > 0);
    if (*whole > 0) {
      s.conn.push_body(st, std::string_view(static_cast<const char*>(up.conn->buffer.data().data()), *whole), true);
      up.conn->buffer.consume(*whole);
    }
    ex.log.response_bytes = *whole;
    s.writer_wake.notify();
    s.w.pool.give_back(up, true);
    co_return;
  }
  s.conn.respond(st, parser.get().result_int(), parser.get().base(), true);
  s.writer_wake.notify();
  std::array<char, kRelayChunkBytes> chunk;
  beast::error_code ec;
  bool complete = false;
  while (!st.closed) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    // Under a route timeout the upstream keeps its deadline for the whole
    // body, as for HTTP/1.1; otherwise each read has the stream idle timeout.
    if (!up.deadline_set) up.conn->stream.expires_after(kStreamIdleTimeout);
    if (up.conn->tls) {  // TLS origination (attempt.h)
      co_await http::async_read(*up.conn->tls, up.conn->buffer, parser, redirect(ec));
    } else {
      co_await http::async_read(up.conn->stream, up.conn->buffer, parser, redirect(ec));
    }
    if (ec == http::error::need_buffer) ec = {};
    if (ec) break;
    const std::size_t n = chunk.size() - parser.get().body().size;
    if (n == 0 && !parser.is_done()) continue;
    s.conn.push_body(st, std::string_view(chunk.data(), n), parser.is_done());
    s.writer_wake.notify();
    ex.log.response_bytes += n;
    if (parser.is_done()) {
      complete = true;
      break;
    }
    // A client that stops opening its window holds no more than this piece,
    // and not for longer than the stream idle timeout.
    const auto until = std::chrono::steady_clock::now() + kStreamIdleTimeout;
    while (!st.out_drained() && !st.closed && std::chrono::steady_clock::now() < until) {
      co_await progress.wait(std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()));
    }
    if (!st.out_drained() && !st.closed) {
      ex.log.flags.set(telemetry::ResponseFlag::kStreamIdleTimeout);
      s.conn.reset(st, NGHTTP2_CANCEL);
      s.writer_wake.notify();
      break;
    }
  }
  up.conn->stream.expires_never();
  if (ec) {
    // The head is gone already: all that is left is to cut the stream.
    ex.log.flags.set(telemetry::ResponseFlag::kUpstreamProtocolError);
    s.conn.reset(st, NGHTTP2_INTERNAL_ERROR);
    s.writer_wake.notify();
    co_return;
  }
  s.w.pool.give_back(up, complete);
}

// Relays a response from an HTTP/2 upstream stream: HEADERS now, DATA as it
// arrives (a server-streaming gRPC call message by message), then the
// trailers (grpc-status). The upstream's window opens again only as the
// client takes the data, so a slow client holds back the server, not our
// memory. A trailers-only response (gRPC's errors) is one HEADERS frame.
template <class Stream>
Task<void> relay_h2_upstream(H2Session<Stream>& s, H2Stream& st, Wakeup& progress, Exchange& ex, UpstreamReply& up) {
  H2UpstreamStream& u = *up.h2;
  u.on_event = [&progress] { progress.notify(); };
  auto& head = up.head();
  ex.on_response(head);
  ex.log.status = head.result_int();
  const bool headers_only = u.ended && u.body.empty() && !u.has_trailers;
  s.conn.respond(st, head.result_int(), head, !headers_only);
  s.writer_wake.notify();
  if (headers_only) {
    u.on_event = nullptr;
    co_return;
  }
  for (;;) {
    // The route timeout, if any, spans the whole response, as for HTTP/1.1;
    // otherwise each wait has the stream idle timeout.
    auto until = std::chrono::steady_clock::now() + kStreamIdleTimeout;
    if (up.deadline) until = std::min(until, *up.deadline);
    const auto ready = [&] { return st.out_drained() && (!u.body.empty() || u.ended || u.closed); };
    while (!st.closed && !ready() && std::chrono::steady_clock::now() < until) {
      co_await progress.wait(std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()));
    }
    if (st.closed) break;
    if (!ready()) {
      ex.log.flags.set(up.deadline && std::chrono::steady_clock::now() >= *up.deadline
                           ? telemetry::ResponseFlag::kUpstreamRequestTimeout
                           : telemetry::ResponseFlag::kStreamIdleTimeout);
      s.conn.reset(st, NGHTTP2_CANCEL);
      s.writer_wake.notify();
      break;
    }
    if (u.body.empty() && !u.ended) {
      // Reset by the upstream (or its connection lost) before its end.
      ex.log.flags.set(telemetry::ResponseFlag::kUpstreamProtocolError);
      s.conn.reset(st, NGHTTP2_INTERNAL_ERROR);
      s.writer_wake.notify();
      break;
    }
    const bool last = u.ended;
    if (last && u.has_trailers) {
      ex.on_trailers(u.trailers);
      s.conn.set_trailers(st, std::move(u.trailers));
    }
    s.conn.push_body(st, u.body, last);
    ex.log.response_bytes += u.body.size();
    up.h2_conn->consume(u, u.body.size());
    u.body.clear();
    s.writer_wake.notify();
    if (last) break;
  }
  u.on_event = nullptr;
}

// One request stream, from its whole request to its response's end.
template <class Stream>
Task<void> handle_stream(H2Session<Stream>& s, std::shared_ptr<H2Stream> stream) {
  H2Stream& st = *stream;
  Wakeup progress(s.w.ioc);
  ProgressHook hook(st, progress);
  if (st.reject_status) {
    send_local(s, st, local_reply(st.reject_status, 11, true));
    co_return;
  }
  constexpr bool kTls = !std::is_same_v<Stream, TcpStream>;
  const uint32_t remote_ip =
      gateway_remote_client(st.request, s.ds, s.w.options.gateway_trusted_proxies, kTls ? "https" : "http");
  Exchange ex(s.w, st.request, s.ds, st.scheme, st.started, remote_ip);
  ex.log.protocol = "HTTP/2";
  // A fault delay ends early when the client resets the stream (or leaves).
  const auto hold = [&st, &progress](std::chrono::milliseconds delay) -> Task<bool> {
    const auto until = std::chrono::steady_clock::now() + delay;
    while (!st.closed && std::chrono::steady_clock::now() < until) {
      co_await progress.wait(std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()));
    }
    co_return !st.closed;
  };
  // A piped body: the client may send more as the upstream takes it.
  std::optional<PipedBody> piped;
  BodyWindowHook window(s, st);
  if (st.body_pipe) piped.emplace(s.w.ioc, st.body_pipe);
  if (!co_await ex.run_filters(hold)) co_return;
  ForwardResult result = co_await ex.answer(piped ? &*piped : nullptr, 11, true);
  if (result.local) {
    Response& res = *result.local;
    ex.on_response(res.base());
    ex.log.status = res.result_int();
    ex.log.response_bytes = res.body().size();
    send_local(s, st, res);
  } else if (result.upstream->h2) {
    co_await relay_h2_upstream(s, st, progress, ex, *result.upstream);
  } else {
    co_await relay_upstream(s, st, progress, ex, *result.upstream);
  }
  // The client reset the stream, or the connection ended, before its end.
  if (st.aborted) ex.log.flags.set(telemetry::ResponseFlag::kDownstreamConnectionTermination);
  if (st.body_pipe) ex.log.request_bytes = st.body_pipe->received();
  ex.complete();
}

template <class Stream>
void start_ready_streams(H2Session<Stream>& s) {
  for (auto& st : s.ready) spawn_counted(s, handle_stream(s, std::move(st)), true);
  s.ready.clear();
}

// Flushes nghttp2's output whenever there is some; the one writer of the
// socket. Ends when nghttp2 has nothing more to say, or on a write error.
template <class Stream>
Task<void> write_loop(H2Session<Stream>& s) {
  std::string out;
  for (;;) {
    out.clear();
    if (!s.conn.take_output(out, kH2WriteBatchBytes)) break;
    if (!out.empty()) {
      s.writing = true;
      s.write_since = std::chrono::steady_clock::now();
      beast::error_code ec;
      if constexpr (std::is_same_v<Stream, TcpStream>) {
        co_await write_all(s.socket, asio::buffer(out), ec);
      } else {
        co_await asio::async_write(s.stream, asio::buffer(out), redirect(ec));
      }
      s.writing = false;
      if (ec) break;
      s.last_write = std::chrono::steady_clock::now();
      continue;
    }
    if (s.closing || (!s.conn.want_read() && !s.conn.want_write())) break;
    co_await s.writer_wake.wait();
  }
  // The reader may still wait for bytes nghttp2 no longer wants.
  s.closing = true;
  beast::error_code ignored;
  s.socket.cancel(ignored);
}

// Once a second: the idle timeout, stalled writes and stuck connections, and
// the proxy's drain.
template <class Stream>
Task<void> watch_loop(H2Session<Stream>& s) {
  while (!s.closing) {
    co_await s.watch_wake.wait(kH2WatchInterval);
    if (s.closing) break;
    const auto now = std::chrono::steady_clock::now();
    if (s.writing && now - s.write_since > kStreamIdleTimeout) {
      beast::error_code ignored;
      s.socket.cancel(ignored);
      break;
    }
    const bool quiet = s.handlers == 0 && s.conn.open_streams() == 0;
    if (s.w.draining.load(std::memory_order_relaxed)) {
      // GOAWAY: the client takes its next streams elsewhere; these finish.
      s.conn.refuse_new_streams();
      if (quiet) s.conn.terminate(NGHTTP2_NO_ERROR);
      s.writer_wake.notify();
    } else if (quiet && now - s.conn.last_activity() >= kH2IdleTimeout) {
      H2Stats::add(H2Stats::global().idle_closes);
      s.conn.terminate(NGHTTP2_NO_ERROR);
      s.writer_wake.notify();
    } else if (s.handlers == 0 && now - std::max(s.last_write, s.conn.last_activity()) >= kStreamIdleTimeout) {
      // Responses wait for a window the client never opens, and it sends
      // nothing: the connection is stuck, not idle.
      H2Stats::add(H2Stats::global().idle_closes);
      s.conn.terminate(NGHTTP2_NO_ERROR);
      s.writer_wake.notify();
    }
  }
}

}  // namespace

template <class Stream>
Task<void> serve_h2(Worker& w, Stream& stream, beast::flat_buffer& buffer, const Downstream& ds, H2Upgrade* upgrade) {
  H2Stats::add(H2Stats::global().connections);
  H2Session<Stream> s(w, stream, ds);
  // Settings that do not decode end the connection before any stream runs.
  if (upgrade && !s.conn.upgrade(upgrade->settings, std::move(upgrade->first))) s.closing = true;
  start_ready_streams(s);
  spawn_counted(s, write_loop(s), false);
  spawn_counted(s, watch_loop(s), false);
  beast::error_code ec;
  while (!s.closing && s.conn.want_read()) {
    if (buffer.size() == 0) {
      const std::size_t n = co_await s.stream.async_read_some(buffer.prepare(kRelayChunkBytes), redirect(ec));
      if (ec) break;
      buffer.commit(n);
    }
    const auto data = buffer.data();
    const bool ok = s.conn.receive(std::string_view(static_cast<const char*>(data.data()), data.size()));
    buffer.consume(buffer.size());
    start_ready_streams(s);
    s.writer_wake.notify();
    if (!ok) break;
  }
  // Reading is over: the writer sends what nghttp2 still has (a GOAWAY),
  // bounded in time, then every stream learns the connection is gone.
  s.closing = true;
  s.writer_wake.notify();
  s.watch_wake.notify();
  const auto closing_since = std::chrono::steady_clock::now();
  while (s.tasks > s.handlers) {
    co_await s.done_wake.wait(kH2WatchInterval);
    if (s.writing && std::chrono::steady_clock::now() - closing_since > kClosingWriteStall) s.socket.cancel(ec);
  }
  s.conn.close_all();
  // Over TLS the caller sends close_notify once every stream has ended.
  if constexpr (std::is_same_v<Stream, TcpStream>) s.socket.shutdown(Socket::shutdown_both, ec);
  while (s.tasks > 0) co_await s.done_wake.wait();
}

template Task<void> serve_h2<TcpStream>(Worker&, TcpStream&, beast::flat_buffer&, const Downstream&, H2Upgrade*);
template Task<void> serve_h2<beast::ssl_stream<TcpStream>>(Worker&, beast::ssl_stream<TcpStream>&, beast::flat_buffer&,
                                                           const Downstream&, H2Upgrade*);

}  // namespace sluice::proxy
