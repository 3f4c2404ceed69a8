#include "proxy_server.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/container/small_vector.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include "access_log.h"
#include "body_relay.h"
#include "endpoint_picker.h"
#include "proxy_limits.h"
#include "tls_client_hello.h"
#include "proxy_asio.h"
#include "consts.h"
#include "fault_injection.h"
#include "header_ops.h"
#include "http_head.h"
#include "http_types.h"
#include "ip_text.h"
#include "listen_socket.h"
#include "request_router.h"
#include "retry_policy.h"
#include "tls_contexts.h"

namespace sluice::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using StreamRequest = http::request<http::buffer_body, Fields>;
using StreamResponse = http::response<http::buffer_body, Fields>;
using GatewayServerMap = std::map<uint16_t, std::vector<config::GatewayServer>>;

namespace {

// Envoy's body for a circuit-breaker overflow, which users grep for.
constexpr const char* kOverflowBody = "upstream connect error or disconnect/reset before headers. reset reason: overflow\n";

Response local_reply(unsigned status, unsigned version, bool keep_alive, std::string body = {}) {
  Response res{static_cast<http::status>(status), version};
  res.set(http::field::server, "sluice");
  res.set(http::field::content_type, "text/plain");
  res.body() = std::move(body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

// Headers that describe one hop, not the message: never forwarded.
void strip_hop_by_hop(Fields& f) {
  for (auto field : {http::field::connection, http::field::keep_alive, http::field::proxy_connection, http::field::te,
                     http::field::trailer, http::field::upgrade}) {
    f.erase(field);
  }
}

// A random (version 4 style) UUID, written into `id`.
void new_request_id(std::minstd_rand& rng, std::array<char, 36>& id) {
  static constexpr char kHex[] = "0123456789abcdef";
  id.fill('-');
  // Seven hex digits from each 31-bit draw.
  uint32_t bits = 0;
  int left = 0;
  for (size_t i = 0; i < id.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;
    if (left == 0) {
      bits = static_cast<uint32_t>(rng());
      left = 7;
    }
    id[i] = kHex[bits & 15];
    bits >>= 4;
    --left;
  }
  id[14] = '4';
}

// Request headers for the route matcher, read from the Beast message in place.
class BeastHeaders final : public HeaderSource {
 public:
  explicit BeastHeaders(const Request& r) : r_(r) {}
  std::optional<std::string_view> header(std::string_view name) const override {
    auto it = r_.find(beast::string_view(name.data(), name.size()));
    if (it == r_.end()) return std::nullopt;
    return std::string_view(it->value().data(), it->value().size());
  }

 private:
  const Request& r_;
};

// Copies bytes from one socket to the other until either side ends, then
// shuts the other down so its reader ends too.
// `active` is set to the time of each read.
Task<void> pump(Socket& from, Socket& to, std::shared_ptr<std::atomic<uint64_t>> bytes,
                std::chrono::steady_clock::time_point* active) {
  std::array<char, 16 * 1024> buf;
  beast::error_code ec;
  for (;;) {
    size_t n = co_await from.async_read_some(asio::buffer(buf), redirect(ec));
    if (ec) break;
    *active = std::chrono::steady_clock::now();
    co_await asio::async_write(to, asio::buffer(buf.data(), n), redirect(ec));
    if (ec) break;
    *bytes += n;
  }
  to.shutdown(Socket::shutdown_send, ec);
  from.shutdown(Socket::shutdown_receive, ec);
}

// The size of a response body that is already whole in `buffer` behind its
// parsed header: none (0), or all of a Content-Length body. Otherwise (a
// chunked body, one ended by close, or one still arriving) nullopt.
std::optional<uint64_t> buffered_body_bytes(const ResponseBodyParser& p, const beast::flat_buffer& buffer) {
  if (p.is_done()) return 0;
  if (p.chunked() || !p.content_length()) return std::nullopt;
  const auto left = p.content_length_remaining();
  if (!left || *left > buffer.size()) return std::nullopt;
  return *left;
}

// Outlier detection sees every attempt's result: a status, or (0) a local
// connect failure, reset or timeout. The proxy's own overflow is not the
// endpoint's fault and is not reported.
void report_outlier(Cluster& cluster, const config::Endpoint& ep, const AttemptOutcome& o) {
  if (o.kind == AttemptOutcome::Kind::kOverflow) return;
  const unsigned status = o.kind == AttemptOutcome::Kind::kResponse ? o.status : OutlierDetector::kLocalOriginFailure;
  cluster.outlier.report(EndpointPicker::endpoint_id(&ep), status, OutlierDetector::Clock::now());
}

}  // namespace

// An upstream connection with the circuit-breaker slot it holds.
struct UpstreamConn {
  TcpStream stream;
  CircuitBreaker::Guard slot;
  // Kept with the connection, so a response is read in one or two reads,
  // not a series starting from a fresh 512-byte buffer.
  beast::flat_buffer buffer;
  uint32_t requests = 0;
  std::chrono::steady_clock::time_point idle_since{};
  std::chrono::milliseconds idle_timeout{0};  // connectionPool.http.idleTimeout of its cluster
  std::string head;  // the serialized head of the request being sent; its capacity is kept
};

// A downstream request body that did not fit the retry buffer: the part
// already read is in the request's body, the rest is still on the client
// connection (plain or TLS), behind a parser.
class StreamingBody {
 public:
  virtual ~StreamingBody() = default;
  // Writes `out`'s header, `first`, then the rest of the body to `up`.
  virtual Task<uint64_t> relay_to(TcpStream& up, StreamRequest& out,
                                             std::string_view first, beast::error_code& ec) = 0;
};

template <class Stream>
class StreamingBodyOf final : public StreamingBody {
 public:
  StreamingBodyOf(Stream& stream, beast::flat_buffer& buffer, RequestBodyParser& parser)
      : stream_(stream), buffer_(buffer), parser_(parser) {}
  Task<uint64_t> relay_to(TcpStream& up, StreamRequest& out,
                                     std::string_view first, beast::error_code& ec) override {
    const uint64_t n = co_await relay_body(stream_, buffer_, parser_, up, out, first,
                                           RelayLimits{kStreamIdleTimeout, kStreamIdleTimeout}, ec);
    beast::get_lowest_layer(stream_).expires_never();
    co_return n;
  }

 private:
  Stream& stream_;
  beast::flat_buffer& buffer_;
  RequestBodyParser& parser_;
};

// Who is at the other end of a downstream connection, and how it came.
struct Downstream {
  uint32_t peer_ip = 0;
  std::string address;                     // "ip:port", for the access log
  std::optional<OriginalDestination> dst;  // mesh traffic: what the client dialled
  uint16_t gateway_port = 0;               // gateway traffic: the server port
  // HTTPS: the gateway servers in force at the handshake, and the one SNI chose.
  std::shared_ptr<const GatewayServerMap> gateway_servers;
  const config::GatewayServer* tls_server = nullptr;
};

// An upstream response whose headers have arrived; its body is still to be
// relayed from `conn`.
struct UpstreamReply {
  std::unique_ptr<UpstreamConn> conn;
  std::optional<ResponseBodyParser> parser;  // a new one per response read
  uint64_t endpoint_id = 0;
  uint32_t max_requests = 0;  // maxRequestsPerConnection of its cluster; 0 = unlimited
  bool deadline_set = false;  // the connection's expiry is the route/try deadline
};

// What a forwarded request produced: a reply made here, or an upstream reply.
struct ForwardResult {
  std::optional<Response> local;
  std::unique_ptr<UpstreamReply> upstream;
};

// A downstream connection waiting for request headers. Rather than a timer
// per request, each worker keeps these in a list that its sweeper checks:
// one past its deadline has its read cancelled (then 408, or a close when
// nothing came). Lives on the session's frame, linked only while it waits.
struct HeaderWait {
  std::chrono::steady_clock::time_point deadline;
  Socket* socket = nullptr;
  bool timed_out = false;
  HeaderWait* prev = nullptr;
  HeaderWait* next = nullptr;
};

class HeaderWaits {
 public:
  void add(HeaderWait& w) {
    w.prev = nullptr;
    w.next = head_;
    if (head_) head_->prev = &w;
    head_ = &w;
  }
  void remove(HeaderWait& w) {
    if (w.prev) w.prev->next = w.next; else if (head_ == &w) head_ = w.next;
    if (w.next) w.next->prev = w.prev;
    w.prev = w.next = nullptr;
  }
  void expire(std::chrono::steady_clock::time_point now) {
    for (HeaderWait* w = head_; w; w = w->next) {
      if (w->timed_out || now < w->deadline) continue;
      w->timed_out = true;
      beast::error_code ignored;
      w->socket->cancel(ignored);
    }
  }

 private:
  HeaderWait* head_ = nullptr;
};

// One worker thread: its io_context, listener, load balancers and upstream
// connection pool. Nothing here is shared with other workers.
struct Worker {
  explicit Worker(std::shared_ptr<ClusterRegistry> clusters)
      : router(std::move(clusters)), tls_hello(make_hello_context(tls)) {}
  // Only this worker's thread starts I/O on its sockets, so the reactor's
  // per-descriptor locks are switched off; the scheduler keeps its lock,
  // since other threads post to it (set_gateway_ports, stop).
  asio::io_context ioc{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  Acceptor acceptor{ioc};
  RequestRouter router;
  std::unordered_map<uint64_t, std::vector<std::unique_ptr<UpstreamConn>>> idle;  // endpoint -> idle upstream connections
  std::minstd_rand rng{std::random_device{}()};
  std::thread thread;
  HeaderWaits header_waits;

  // Gateway listeners by port, the TLS contexts of their servers, and the
  // servers of the snapshot last seen.
  std::map<uint16_t, std::shared_ptr<Acceptor>> gateway_acceptors;
  TlsContexts tls;
  asio::ssl::context tls_hello;  // wraps tls.hello_context()
  uint64_t gateway_version = ~0ULL;
  std::shared_ptr<const GatewayServerMap> gateway_servers = std::make_shared<GatewayServerMap>();

  const std::shared_ptr<const GatewayServerMap>& servers_for(const config::SnapshotPtr& snap,
                                                             const std::map<std::string, std::string>& labels) {
    if (snap && snap->version != gateway_version) {
      gateway_servers = std::make_shared<GatewayServerMap>(config::select_gateway_servers(*snap, labels));
      gateway_version = snap->version;
    }
    return gateway_servers;
  }

 private:
  static asio::ssl::context make_hello_context(TlsContexts& tls) {
    SSL_CTX_up_ref(tls.hello_context());  // asio's context takes a reference of its own
    return asio::ssl::context(tls.hello_context());
  }
};

struct ProxyServer::Impl {
  ProxyOptions options;
  std::vector<std::unique_ptr<Worker>> workers;
  uint16_t port = 0;
  std::atomic<bool> stopped{false};
  std::set<uint16_t> gateway_ports;  // listening on every worker; changed by set_gateway_ports only

  Task<void> accept_loop(Worker& w);
  Task<void> sweep_idle(Worker& w);
  Task<void> session(Worker& w, Socket socket);
  Task<ForwardResult> forward(Worker& w, Request& req, StreamingBody* streaming, const RouteDecision& d,
                                         AccessLogEntry& log);
  Task<void> mirror(Worker& w, Request copy, RequestRouter::MirrorTarget target, config::SnapshotPtr keep);
  Task<void> tcp_proxy(Worker& w, Socket client, const Downstream& ds, config::SnapshotPtr snap);
  Task<std::optional<std::string>> read_client_hello(Worker& w, Socket& client, std::string& first);
  Task<void> relay_to_endpoint(Worker& w, Socket& client, const std::string& first, RouteDecision& d,
                               AccessLogEntry& log, std::chrono::steady_clock::time_point start);
  Task<void> gateway_passthrough(Worker& w, Socket client, const Downstream& ds, config::SnapshotPtr snap);
  Task<void> relay_both(Worker& w, Socket& client, Socket& upstream, std::shared_ptr<std::atomic<uint64_t>> to_upstream,
                        std::shared_ptr<std::atomic<uint64_t>> to_client, std::chrono::milliseconds idle_timeout);
  Task<void> tunnel(Worker& w, TcpStream& client, beast::flat_buffer& client_buf, Request& req,
                               const RouteDecision& d, AccessLogEntry& log);
  Task<AttemptOutcome> attempt(Worker& w, const config::Endpoint& ep, Request& req,
                                          StreamingBody* streaming, UpstreamReply& reply, const RouteDecision& d,
                                          std::optional<RetryClock::time_point> deadline, uint64_t& streamed);
  Task<bool> exchange(UpstreamConn& conn, Request& req, StreamingBody* streaming, UpstreamReply& reply,
                                 std::chrono::milliseconds timeout, bool head, uint64_t& streamed,
                                 beast::error_code& ec);
  template <class Stream>
  Task<void> read_request_body(Stream& stream, beast::flat_buffer& buffer, RequestBodyParser& parser,
                                          std::string& body, beast::error_code& ec);
  template <class Stream>
  Task<void> serve(Worker& w, Stream& stream, beast::flat_buffer& buffer, const Downstream& ds);
  RouteDecision gateway_decision(Worker& w, const config::SnapshotPtr& snap, const Downstream& ds, const Request& req,
                                 RequestAttrs& attrs);
  Task<void> gateway_accept_loop(Worker& w, std::shared_ptr<Acceptor> acceptor, uint16_t port);
  Task<void> gateway_session(Worker& w, Socket socket, uint16_t port);
  void finish_upstream(Worker& w, UpstreamReply& reply, bool body_complete);
  // Every socket the proxy dials from: no Nagle, and the proxy's mark (so
  // connect4 lets it through), plus the no-redirect bit when the
  // destination's service opted out of the sockhash fast path.
  void open_upstream(Socket& s, bool socket_redirect, beast::error_code& ec) const;
  // Opens `s` (open_upstream) and connects it to `ep` under the target's
  // connectTimeout, which stays set on the stream for the caller to clear.
  Task<void> connect_upstream(TcpStream& s, const RouteTarget& target, const config::Endpoint& ep,
                              beast::error_code& ec) const;
  inline static const config::RetryPolicy kNoRetries{0, 0, ""};
  beast::error_code ignored_;
};

Task<void> ProxyServer::Impl::accept_loop(Worker& w) {
  for (;;) {
    beast::error_code ec;
    Socket s = co_await w.acceptor.async_accept(redirect(ec));
    if (ec == asio::error::operation_aborted || stopped) co_return;
    if (ec) continue;
    asio::co_spawn(w.ioc, session(w, std::move(s)), asio::detached);
  }
}

// Closes pooled upstream connections that stayed idle past their cluster's
// idleTimeout (Istio's default is 1 h), releasing their connection slots.
Task<void> ProxyServer::Impl::sweep_idle(Worker& w) {
  Timer tick(w.ioc);
  beast::error_code ec;
  while (!stopped) {
    tick.expires_after(kIdleSweepInterval);
    co_await tick.async_wait(redirect(ec));
    const auto now = std::chrono::steady_clock::now();
    w.header_waits.expire(now);
    for (auto& [id, pool] : w.idle) {
      std::erase_if(pool, [&](const auto& c) { return now - c->idle_since >= c->idle_timeout; });
    }
  }
}

// Reads the request body into `body` while it fits the retry buffer. On
// return the body is complete (parser.is_done()), or larger than the buffer
// with the rest left to stream, or `ec` is set.
template <class Stream>
Task<void> ProxyServer::Impl::read_request_body(Stream& stream, beast::flat_buffer& buffer,
                                                           RequestBodyParser& parser, std::string& body,
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

Task<void> ProxyServer::Impl::session(Worker& w, Socket socket) {
  beast::error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) co_return;
  Downstream ds;
  ds.peer_ip = peer.address().to_v4().to_uint();
  ds.dst = options.original_destination ? options.original_destination(ds.peer_ip, peer.port()) : std::nullopt;
  ds.address = format_endpoint(ds.peer_ip, peer.port());
  // Responses go out as soon as they are written, not after Nagle's delay.
  socket.set_option(tcp::no_delay(true), ec);
  if (ds.dst) {
    config::SnapshotPtr snap = options.snapshot ? options.snapshot() : nullptr;
    if (w.router.is_opaque_tcp(snap, *ds.dst)) {
      co_await tcp_proxy(w, std::move(socket), ds, std::move(snap));
      co_return;
    }
  }
  TcpStream stream(std::move(socket));
  beast::flat_buffer buffer;
  co_await serve(w, stream, buffer, ds);
  stream.socket().shutdown(Socket::shutdown_send, ec);
}

// The HTTP/1.1 exchanges of one downstream connection, mesh or gateway,
// plain or TLS.
template <class Stream>
Task<void> ProxyServer::Impl::serve(Worker& w, Stream& stream, beast::flat_buffer& buffer,
                                               const Downstream& ds) {
  beast::error_code ec;
  auto& tcp_layer = beast::get_lowest_layer(stream);
  const uint32_t peer_ip = ds.peer_ip;
  std::string head;  // a response head being written; its capacity is kept
  for (;;) {
    RequestBodyParser parser;
    parser.header_limit(kMaxRequestHeaderBytes);
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // bodies stream; there is no size limit
    // The sweeper cancels the read at the deadline, rather than tcp_stream's
    // own timeout, which would close the socket before a 408 could be sent.
    HeaderWait wait{std::chrono::steady_clock::now() + options.header_timeout, &tcp_layer.socket()};
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
    StreamingBodyOf<Stream> rest(stream, buffer, parser);
    StreamingBody* streaming = parser.is_done() ? nullptr : &rest;

    AccessLogEntry log;
    const bool logging = static_cast<bool>(options.access_log);
    if (logging) {
      log.method = std::string(req.method_string());
      log.path = std::string(req.target());
      log.downstream = ds.address;
    }
    const beast::string_view host = req[http::field::host];
    if (logging) log.authority = std::string(host);
    log.request_bytes = req.body().size();
    if (req["x-request-id"].empty()) {
      std::array<char, 36> id;
      new_request_id(w.rng, id);
      req.set("x-request-id", beast::string_view(id.data(), id.size()));
    }
    if (logging) log.request_id = std::string(req["x-request-id"]);
    bool keep_alive = req.keep_alive();
    const unsigned version = req.version();

    config::SnapshotPtr snap = options.snapshot ? options.snapshot() : nullptr;
    const BeastHeaders headers(req);
    RequestAttrs attrs;
    attrs.method = std::string_view(req.method_string().data(), req.method_string().size());
    attrs.path = std::string_view(req.target().data(), req.target().size());
    attrs.authority = std::string_view(host.data(), host.size());
    attrs.scheme = "http";
    attrs.port = ds.dst ? ds.dst->port : 0;
    attrs.headers = &headers;
    RouteDecision d = ds.gateway_port ? gateway_decision(w, snap, ds, req, attrs)
                                      : w.router.decide(snap, ds.dst, attrs, peer_ip);
    log.route = d.virtual_service;
    if (!d.local_status && d.route && d.route->spec->has_fault()) {
      std::uniform_real_distribution<double> u(0.0, 1.0);
      const FaultDecision f = decide_fault(d.route->spec->fault(), u(w.rng), u(w.rng));
      if (f.delay.count() > 0) {
        Timer delay(w.ioc, f.delay);
        co_await delay.async_wait(redirect(ec));
        log.flags = "DI";
      }
      if (f.abort_status) {
        d.local_status = f.abort_status;
        d.flags = log.flags.empty() ? "FI" : log.flags + ",FI";
        d.local_body = "fault filter abort\n";
      }
    }
    if (!d.local_status && !req[http::field::upgrade].empty() && !streaming) {
      // Upgrade (WebSocket): the connection becomes a byte tunnel to one
      // endpoint and leaves HTTP behind. Over TLS, not yet.
      if constexpr (std::is_same_v<Stream, TcpStream>) {
        co_await tunnel(w, stream, buffer, req, d, log);
        log.duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        if (logging) options.access_log(format_access_log(log));
        co_return;
      } else {
        d.local_status = 501;
        d.local_body = "upgrade over TLS is not supported\n";
      }
    }
    ForwardResult result;
    if (d.local_status) {
      log.flags = d.flags;
      result.local = local_reply(d.local_status, version, keep_alive, d.local_body);
      for (const auto& [name, value] : d.local_headers) result.local->set(name, value);
    } else {
      const std::string injected = std::exchange(log.flags, {});
      result = co_await forward(w, req, streaming, d, log);
      if (!injected.empty()) log.flags = log.flags.empty() ? injected : injected + "," + log.flags;
    }
    // An unread request body cannot be skipped over: the connection ends
    // with this response.
    if (!parser.is_done()) keep_alive = false;
    if (result.local) {
      Response& res = *result.local;
      res.keep_alive(keep_alive);
      log.status = res.result_int();
      log.response_bytes = res.body().size();
      co_await http::async_write(stream, res, redirect(ec));
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
        log.response_bytes = co_await relay_body(up.conn->stream, up.conn->buffer, up_parser, stream, res, {}, limits, ec);
        complete = up_parser.is_done();
      }
      if (ec) {
        // Headers are gone already: all that is left is to cut the response.
        log.flags = log.flags.empty() ? "UPE" : log.flags + ",UPE";
      } else {
        finish_upstream(w, up, complete);
      }
      tcp_layer.expires_never();
    }
    log.duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (logging) options.access_log(format_access_log(log));
    if (ec || !keep_alive) break;
  }
}

// Sends the request and reads the response headers. A streaming request
// body is relayed from the client first (only the route timeout is not
// running yet then: like Envoy's, it starts once the request is complete).
Task<bool> ProxyServer::Impl::exchange(UpstreamConn& conn, Request& req, StreamingBody* streaming,
                                                  UpstreamReply& reply, std::chrono::milliseconds timeout, bool head,
                                                  uint64_t& streamed, beast::error_code& ec) {
  TcpStream& up = conn.stream;
  if (!streaming) {
    if (timeout.count() > 0) up.expires_after(timeout);
    conn.head.clear();
    append_http_head(conn.head, req.base());
    const std::array<asio::const_buffer, 2> out{asio::buffer(conn.head), asio::buffer(req.body())};
    co_await asio::async_write(up, out, redirect(ec));
  } else {
    StreamRequest out(req.base());
    streamed = co_await streaming->relay_to(up, out, req.body(), ec);
    if (timeout.count() > 0) up.expires_after(timeout); else up.expires_never();
  }
  if (ec) co_return false;
  for (;;) {
    reply.parser.emplace();
    reply.parser->header_limit(kMaxRequestHeaderBytes);
    reply.parser->body_limit(std::numeric_limits<std::uint64_t>::max());
    reply.parser->skip(head);
    co_await http::async_read_header(up, conn.buffer, *reply.parser, redirect(ec));
    if (ec) co_return false;
    // An interim 1xx (other than 101) precedes the real response: skip it.
    const unsigned status = reply.parser->get().result_int();
    if (status < 100 || status >= 200 || status == 101) break;
  }
  reply.deadline_set = timeout.count() > 0;
  if (!reply.deadline_set) up.expires_never();
  co_return true;
}

// One exchange with one endpoint. A pooled connection may have been closed
// by the server meanwhile; that shows as an error before any response, so it
// is retried once on a fresh connection without counting as an attempt
// (unless a streamed body has already been consumed).
Task<AttemptOutcome> ProxyServer::Impl::attempt(Worker& w, const config::Endpoint& ep, Request& req,
                                                           StreamingBody* streaming, UpstreamReply& reply,
                                                           const RouteDecision& d,
                                                           std::optional<RetryClock::time_point> deadline,
                                                           uint64_t& streamed) {
  const uint64_t id = EndpointPicker::endpoint_id(&ep);
  CircuitBreaker& breaker = d.cluster().breaker;
  AttemptOutcome out;
  for (int fresh = 0; fresh < 2; ++fresh) {
    auto& pool = w.idle[id];
    std::unique_ptr<UpstreamConn> conn;
    beast::error_code ec;
    if (!pool.empty()) {
      conn = std::move(pool.back());
      pool.pop_back();
    } else {
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
        while (!slot && pool.empty() && std::chrono::steady_clock::now() < give_up) {
          wait.expires_after(kPendingPollInterval);
          co_await wait.async_wait(redirect(ec));
          slot = breaker.try_connection();
        }
        if (!slot && !pool.empty()) {
          conn = std::move(pool.back());
          pool.pop_back();
        } else if (!slot) {
          out.kind = AttemptOutcome::Kind::kOverflow;
          co_return out;
        }
      }
      if (!conn) {
        conn.reset(new UpstreamConn{TcpStream(w.ioc), std::move(*slot)});
        conn->buffer.reserve(kRelayChunkBytes);
        co_await connect_upstream(conn->stream, *d.target, ep, ec);
        conn->stream.expires_never();
        if (ec) {
          out.kind = ec == beast::error::timeout ? AttemptOutcome::Kind::kPerTryTimeout
                                                 : AttemptOutcome::Kind::kConnectFailure;
          out.request_sent = false;
          co_return out;
        }
        fresh = 1;  // a failure on a new connection is final
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
      reply.max_requests = breaker.max_requests_per_connection();
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

void ProxyServer::Impl::open_upstream(Socket& s, bool socket_redirect, beast::error_code& ec) const {
  s.open(tcp::v4(), ec);
  if (!ec) s.set_option(tcp::no_delay(true), ec);
  if (!ec && options.bypass_mark) {
    const uint32_t mark = options.bypass_mark | (socket_redirect ? 0 : SL_MARK_NO_REDIR);
    setsockopt(s.native_handle(), SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
  }
}

Task<void> ProxyServer::Impl::connect_upstream(TcpStream& s, const RouteTarget& target, const config::Endpoint& ep,
                                               beast::error_code& ec) const {
  open_upstream(s.socket(), target.socket_redirect, ec);
  s.expires_after(std::chrono::milliseconds(target.connect_timeout_ms));
  co_await s.async_connect(tcp::endpoint(asio::ip::address_v4(ep.ip), ep.port), redirect(ec));
}

// After a response body was relayed whole, its connection goes back to the
// pool if both sides keep it alive and it has requests left.
void ProxyServer::Impl::finish_upstream(Worker& w, UpstreamReply& reply, bool body_complete) {
  if (!reply.conn || !body_complete || !reply.parser->keep_alive() || reply.conn->buffer.size() != 0) return;
  UpstreamConn& conn = *reply.conn;
  const uint32_t limit = reply.max_requests;
  auto& pool = w.idle[reply.endpoint_id];
  if ((limit != 0 && ++conn.requests >= limit) || pool.size() >= kMaxIdleUpstreamPerEndpoint) return;
  conn.stream.expires_never();
  conn.idle_since = std::chrono::steady_clock::now();
  pool.push_back(std::move(reply.conn));
}

Task<ForwardResult> ProxyServer::Impl::forward(Worker& w, Request& req, StreamingBody* streaming,
                                                          const RouteDecision& d, AccessLogEntry& log) {
  // The request is not needed after this: move it rather than copy a body.
  const unsigned version = req.version();
  Request up_req = std::move(req);
  strip_hop_by_hop(up_req);
  if (d.route) {
    const auto& spec = *d.route->spec;
    if (spec.has_rewrite()) {
      up_req.target(rewrite_target(spec, std::string(up_req.target())));
      if (!spec.rewrite().authority().empty()) up_req.set(http::field::host, spec.rewrite().authority());
    }
    if (spec.has_headers()) apply_header_ops(spec.headers().request(), up_req);
  }
  if (d.destination) {
    // destinations[i] was resolved from route(i).
    const auto& chosen = d.route->spec->route(static_cast<int>(d.destination - d.route->destinations.data()));
    if (chosen.has_headers()) apply_header_ops(chosen.headers().request(), up_req);
  }
  up_req.keep_alive(true);
  // A streamed body keeps the client's framing (Content-Length or chunked).
  if (!streaming) up_req.prepare_payload();

  ForwardResult result;
  auto local = [&](unsigned status, std::string body) {
    result.local = local_reply(status, version, true, std::move(body));
    return std::move(result);
  };
  // Mirrors get their copy first and on their own: nothing they do can delay
  // or fail this request. A streamed body is not mirrored.
  for (const RequestRouter::MirrorTarget& m : streaming ? std::vector<RequestRouter::MirrorTarget>{}
                                                        : w.router.mirror_endpoints(d, d.original_port)) {
    Request copy = up_req;
    const std::string host(up_req[http::field::host]);
    const size_t colon = host.rfind(':');
    copy.set(http::field::host, colon == std::string::npos ? host + "-shadow"
                                                           : host.substr(0, colon) + "-shadow" + host.substr(colon));
    asio::co_spawn(w.ioc, mirror(w, std::move(copy), m, d.snapshot), asio::detached);
  }

  std::optional<CircuitBreaker::Guard> request_slot = d.cluster().breaker.try_request();
  if (!request_slot) {
    log.flags = "UO";
    co_return local(503, kOverflowBody);
  }

  // Retries: the route timeout covers every attempt; each waits a fully
  // jittered back-off and goes to an endpoint not tried yet where possible.
  // A streamed request has a single attempt: its body cannot be replayed.
  const config::RetryPolicy& policy = d.route && !streaming ? d.route->retries : kNoRetries;
  const ParsedRetryOn& retry_on = w.router.retry_on(d.route);
  const auto deadline = streaming ? std::nullopt : route_deadline(RetryClock::now(), d.timeout_ms);
  boost::container::small_vector<const config::Endpoint*, 4> tried;  // no allocation for the usual few attempts
  const config::Endpoint* ep = d.endpoint;
  std::optional<CircuitBreaker::Guard> retry_slot;
  bool retry_overflow = false;
  auto reply = std::make_unique<UpstreamReply>();
  AttemptOutcome outcome;
  for (uint32_t n = 0;; ++n) {
    const auto attempt_deadline = next_attempt_deadline(policy, n, RetryClock::now(), deadline);
    if (!attempt_deadline && n > 0) break;
    ++log.attempts;
    if (options.access_log) log.upstream = format_endpoint(ep->ip, ep->port);
    tried.push_back(ep);
    w.router.picker().started(ep);
    auto until = attempt_deadline && *attempt_deadline != RetryClock::time_point::max()
                     ? attempt_deadline : std::optional<RetryClock::time_point>{};
    if (streaming && d.timeout_ms > 0) until = RetryClock::now() + std::chrono::milliseconds(d.timeout_ms);
    if (n > 0) reply = std::make_unique<UpstreamReply>();
    uint64_t streamed = 0;
    outcome = co_await attempt(w, *ep, up_req, streaming, *reply, d, until, streamed);
    if (streaming) log.request_bytes = streamed;  // the buffered prefix is part of it
    w.router.picker().finished(ep);
    report_outlier(d.cluster(), *ep, outcome);
    if (deadline && RetryClock::now() >= *deadline) {
      log.flags = "UT";
      co_return local(504, "upstream request timeout\n");
    }
    if (!should_retry(retry_on, outcome) || n >= policy.attempts) break;
    // maxRetries: a retry without a slot is skipped, and the response so far stands.
    retry_slot = d.cluster().breaker.try_retry();
    if (!retry_slot) {
      retry_overflow = true;
      break;
    }
    Timer pause(w.ioc, backoff(n + 1, w.rng()));
    co_await pause.async_wait(redirect(ignored_));
    ep = w.router.repick(d, {tried.data(), tried.size()});
    if (!ep) break;
  }
  const bool exhausted = log.attempts > 1 && should_retry(retry_on, outcome);
  if (retry_overflow) log.flags = "UO";
  switch (outcome.kind) {
    case AttemptOutcome::Kind::kOverflow:
      log.flags = "UO";
      co_return local(503, kOverflowBody);
    case AttemptOutcome::Kind::kResponse: {
      if (exhausted) log.flags = log.flags.empty() ? "URX" : log.flags + ",URX";
      auto& res = reply->parser->get();
      strip_hop_by_hop(res);
      if (d.route && d.route->spec->has_headers()) apply_header_ops(d.route->spec->headers().response(), res);
      if (!d.set_cookie.empty()) res.insert(http::field::set_cookie, d.set_cookie);
      result.upstream = std::move(reply);
      co_return std::move(result);
    }
    case AttemptOutcome::Kind::kConnectFailure:
      log.flags = exhausted ? "URX,UF" : "UF";
      co_return local(503, "upstream connect error\n");
    case AttemptOutcome::Kind::kPerTryTimeout:
      log.flags = exhausted ? "URX,UT" : "UT";
      co_return local(504, "upstream request timeout\n");
    default:
      log.flags = exhausted ? "URX,UC" : "UC";
      co_return local(503, "upstream connection terminated\n");
  }
}
// Gateway traffic: the server on this port that serves the Host (for HTTPS,
// the one SNI chose, which must serve the Host too), then the routes of the
// VirtualServices bound to its Gateway.
RouteDecision ProxyServer::Impl::gateway_decision(Worker& w, const config::SnapshotPtr& snap, const Downstream& ds,
                                                  const Request& req, RequestAttrs& attrs) {
  RouteDecision d;
  d.snapshot = snap;
  const std::string host = config::host_without_port(std::string_view(req[http::field::host].data(),
                                                                      req[http::field::host].size()));
  const config::GatewayServer* server = nullptr;
  if (ds.tls_server) {
    if (config::gateway_server_matches(*ds.tls_server, host)) server = ds.tls_server;
  } else if (snap) {
    const auto& servers = *w.servers_for(snap, options.gateway_labels);
    if (auto it = servers.find(ds.gateway_port); it != servers.end()) {
      server = config::find_gateway_server(it->second, host, config::ServerKind::kPlain);
    }
  }
  if (!server) return local_answer(std::move(d), 404, "NR", "no gateway server for host " + host + "\n");
  if (!ds.tls_server && server->https_redirect) {
    d.local_headers.emplace_back("location", "https://" + host + std::string(req.target()));
    return local_answer(std::move(d), 301, "", "");
  }
  attrs.scheme = ds.tls_server ? "https" : "http";
  attrs.port = ds.gateway_port;
  d = w.router.decide_gateway(snap, server->gateway, host, attrs, ds.peer_ip);
  // hosts: ["ns/name"] lets only VirtualServices of that namespace serve it.
  if (d.route) {
    const std::string& vs = d.route->virtual_service;  // "namespace/name"
    if (!config::gateway_server_allows(*server, host, std::string_view(vs).substr(0, vs.find('/')))) {
      RouteDecision refused;
      refused.snapshot = snap;
      return local_answer(std::move(refused), 404, "NR", "no route: VirtualService " + vs + " may not bind to this gateway host\n");
    }
  }
  return d;
}

Task<void> ProxyServer::Impl::gateway_accept_loop(Worker& w, std::shared_ptr<Acceptor> acceptor,
                                                             uint16_t port) {
  for (;;) {
    beast::error_code ec;
    Socket s = co_await acceptor->async_accept(redirect(ec));
    if (ec == asio::error::operation_aborted || !acceptor->is_open() || stopped) co_return;
    if (ec) continue;
    asio::co_spawn(w.ioc, gateway_session(w, std::move(s), port), asio::detached);
  }
}

Task<void> ProxyServer::Impl::gateway_session(Worker& w, Socket socket, uint16_t port) {
  beast::error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) co_return;
  Downstream ds;
  ds.peer_ip = peer.address().to_v4().to_uint();
  ds.address = format_endpoint(ds.peer_ip, peer.port());
  ds.gateway_port = port;
  socket.set_option(tcp::no_delay(true), ec);
  config::SnapshotPtr snap = options.snapshot ? options.snapshot() : nullptr;
  ds.gateway_servers = w.servers_for(snap, options.gateway_labels);
  bool tls = false, passthrough = false;
  if (auto it = ds.gateway_servers->find(port); it != ds.gateway_servers->end()) {
    for (const auto& g : it->second) {
      tls = tls || g.tls == config::GatewayTls::kSimple || g.tls == config::GatewayTls::kMutual;
      passthrough = passthrough || g.tls == config::GatewayTls::kPassthrough;
    }
  }
  // A port that also terminates TLS terminates it for every name: its
  // PASSTHROUGH servers' names then fail the handshake (docs/gateway.md).
  if (passthrough && !tls) {
    co_await gateway_passthrough(w, std::move(socket), ds, std::move(snap));
    co_return;
  }
  beast::flat_buffer buffer;
  if (!tls) {
    TcpStream stream(std::move(socket));
    co_await serve(w, stream, buffer, ds);
    stream.socket().shutdown(Socket::shutdown_send, ec);
    co_return;
  }
  beast::ssl_stream<TcpStream> stream(TcpStream(std::move(socket)), w.tls_hello);
  TlsHandshake hs;
  hs.snapshot = snap.get();
  hs.servers = &ds.gateway_servers->at(port);
  hs.contexts = &w.tls;
  SSL_set_app_data(stream.native_handle(), &hs);
  // A handshake that does not finish in time (or fails) costs this
  // coroutine only: the worker goes on serving others.
  beast::get_lowest_layer(stream).expires_after(kTlsHandshakeTimeout);
  co_await stream.async_handshake(asio::ssl::stream_base::server, redirect(ec));
  SSL_set_app_data(stream.native_handle(), nullptr);
  beast::get_lowest_layer(stream).expires_never();
  if (ec || !hs.chosen) {
    if (options.access_log) {
      AccessLogEntry log;
      log.downstream = ds.address;
      log.flags = "DC";
      log.path = "tls handshake: " + (hs.error.empty() ? ec.message() : hs.error);
      options.access_log(format_access_log(log));
    }
    co_return;
  }
  ds.tls_server = hs.chosen;
  co_await serve(w, stream, buffer, ds);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(1));
  co_await stream.async_shutdown(redirect(ec));
}

Task<void> ProxyServer::Impl::tunnel(Worker& w, TcpStream& client, beast::flat_buffer& client_buf,
                                                Request& req, const RouteDecision& d, AccessLogEntry& log) {
  const config::Endpoint& ep = *d.endpoint;
  log.upstream = format_endpoint(ep.ip, ep.port);
  log.attempts = 1;
  TcpStream up(w.ioc);
  beast::error_code ec;
  co_await connect_upstream(up, *d.target, ep, ec);
  if (ec) {
    log.flags = "UF";
    Response res = local_reply(503, req.version(), false, "upstream connect error\n");
    log.status = 503;
    co_await http::async_write(client, res, redirect(ec));
    co_return;
  }
  // The upgrade request goes out with its Connection/Upgrade headers.
  co_await http::async_write(up, req, redirect(ec));
  beast::flat_buffer up_buf;
  http::response_parser<http::empty_body> head;
  if (!ec) co_await http::async_read_header(up, up_buf, head, redirect(ec));
  up.expires_never();
  if (ec) {
    log.flags = "UC";
    log.status = 503;
    Response res = local_reply(503, req.version(), false, "upstream connection terminated\n");
    co_await http::async_write(client, res, redirect(ec));
    co_return;
  }
  http::response<http::empty_body> res = head.release();
  log.status = res.result_int();
  http::serializer<false, http::empty_body> sr(res);
  co_await http::async_write_header(client, sr, redirect(ec));
  if (ec || res.result() != http::status::switching_protocols) co_return;

  // Bytes each side sent past the handshake are already in the buffers.
  auto bytes = std::make_shared<std::atomic<uint64_t>>(0);
  Socket& cs = client.socket();
  Socket& us = up.socket();
  if (client_buf.size()) co_await asio::async_write(us, client_buf.data(), redirect(ec));
  if (up_buf.size()) co_await asio::async_write(cs, up_buf.data(), redirect(ec));
  co_await relay_both(w, cs, us, bytes, bytes, std::chrono::milliseconds(0));
  log.response_bytes = *bytes;
}

// Bytes both ways between two sockets until both directions end. When the
// client's direction ends, the other gets a grace period to drain; when no
// byte moved either way for idle_timeout (0: no limit), or the grace period
// is over, both sockets are closed, which ends both directions. The
// directions run as coroutines of their own; this one waits for both (the
// sockets are the caller's).
Task<void> ProxyServer::Impl::relay_both(Worker& w, Socket& cs, Socket& us,
                                         std::shared_ptr<std::atomic<uint64_t>> to_upstream,
                                         std::shared_ptr<std::atomic<uint64_t>> to_client,
                                         std::chrono::milliseconds idle_timeout) {
  using Clock = std::chrono::steady_clock;
  struct State {
    explicit State(asio::io_context& ioc) : wake(ioc) {}
    Timer wake;
    Clock::time_point active = Clock::now();
    int running = 2;
    bool client_done = false;
  };
  auto st = std::make_shared<State>(w.ioc);
  auto ended = [st](bool client_direction) {
    return [st, client_direction](std::exception_ptr) {
      --st->running;
      st->client_done = st->client_done || client_direction;
      st->wake.cancel();
    };
  };
  asio::co_spawn(w.ioc, pump(cs, us, std::move(to_upstream), &st->active), ended(true));
  asio::co_spawn(w.ioc, pump(us, cs, std::move(to_client), &st->active), ended(false));
  std::optional<Clock::time_point> drain_until;
  bool closed = false;
  beast::error_code ec;
  while (st->running > 0) {
    if (st->client_done && !drain_until) drain_until = Clock::now() + kTunnelDrainTimeout;
    Clock::time_point next = Clock::time_point::max();
    if (!closed && idle_timeout.count() > 0) next = st->active + idle_timeout;
    if (!closed && drain_until) next = std::min(next, *drain_until);
    const Clock::time_point now = Clock::now();
    if (!closed && next <= now) {
      cs.close(ec);
      us.close(ec);
      closed = true;
      continue;
    }
    st->wake.expires_at(next);
    co_await st->wake.async_wait(redirect(ec));
  }
}

// Reads the start of a connection until it is known whether it opens with
// a TLS ClientHello (the bytes stay in `first`, to be sent on). Returns its
// server name ("" when it has none), or nullopt when the bytes are not a
// ClientHello, the client stops sending, or the header timeout passes.
Task<std::optional<std::string>> ProxyServer::Impl::read_client_hello(Worker& w, Socket& client, std::string& first) {
  // The worker's sweeper cancels the read at the deadline (as for request
  // headers); nothing outlives this frame.
  HeaderWait wait{std::chrono::steady_clock::now() + options.header_timeout, &client};
  w.header_waits.add(wait);
  std::array<char, 4096> chunk;
  std::optional<std::string> sni;
  size_t need = 1;
  while (first.size() <= kMaxClientHelloBytes + 4 * 5) {
    beast::error_code ec;
    const size_t n = co_await client.async_read_some(asio::buffer(chunk), redirect(ec));
    first.append(chunk.data(), n);
    if (ec || wait.timed_out) break;
    if (first.size() < need) continue;  // nothing to decide yet: no parse
    const ClientHelloPeek peek = peek_client_hello(first);
    if (peek.status == ClientHelloPeek::Status::kDone) sni = peek.sni;
    if (peek.status != ClientHelloPeek::Status::kNeedMore) break;
    need = peek.need;
  }
  w.header_waits.remove(wait);
  co_return sni;
}

// Opaque TCP that a VirtualService's tcp or tls routes took: one upstream
// connection per client connection, under the cluster's maxConnections and
// connectTimeout, then bytes both ways until a side ends or the connection
// is idle for tcp.idleTimeout (Istio's default: 1 h). A connection that cannot be served
// is closed: TCP has no error response (Envoy resets it too). Where tls
// routes take the port, the ClientHello is read first and routed by its
// server name; TLS is not terminated, and the hello goes on untouched.
Task<void> ProxyServer::Impl::tcp_proxy(Worker& w, Socket client, const Downstream& ds, config::SnapshotPtr snap) {
  const auto start = std::chrono::steady_clock::now();
  AccessLogEntry log;
  log.downstream = ds.address;
  log.authority = format_endpoint(ds.dst->vip, ds.dst->port);
  std::string first;  // bytes read from the client before the decision
  std::optional<std::string> sni;
  if (w.router.wants_client_hello(snap, *ds.dst)) sni = co_await read_client_hello(w, client, first);
  if (sni) log.server_name = *sni;
  RouteDecision d = w.router.decide_tcp(std::move(snap), *ds.dst, ds.peer_ip, sni ? &*sni : nullptr);
  co_await relay_to_endpoint(w, client, first, d, log, start);
}

// The rest of an L4 connection once it is decided: a slot under
// maxConnections, a connect under connectTimeout, the bytes read so far,
// then both directions until a side ends or tcp.idleTimeout passes; one
// access-log line.
Task<void> ProxyServer::Impl::relay_to_endpoint(Worker& w, Socket& client, const std::string& first,
                                                RouteDecision& d, AccessLogEntry& log,
                                                std::chrono::steady_clock::time_point start) {
  log.route = d.virtual_service;
  beast::error_code ec;
  auto up_bytes = std::make_shared<std::atomic<uint64_t>>(0);
  auto down_bytes = std::make_shared<std::atomic<uint64_t>>(0);
  if (!d.endpoint) {
    if (log.flags.empty()) log.flags = "UH";
  } else if (std::optional<CircuitBreaker::Guard> slot = d.cluster().breaker.try_connection(); !slot) {
    log.flags = "UO";
  } else {
    const config::Endpoint& ep = *d.endpoint;
    const uint64_t id = EndpointPicker::endpoint_id(&ep);
    log.upstream = format_endpoint(ep.ip, ep.port);
    log.attempts = 1;
    TcpStream up(w.ioc);
    co_await connect_upstream(up, *d.target, ep, ec);
    up.expires_never();
    // For outlier detection a refused or timed-out connect is a local-origin
    // failure and an accepted one a success.
    d.cluster().outlier.report(id, ec ? OutlierDetector::kLocalOriginFailure : 200, OutlierDetector::Clock::now());
    if (!ec && !first.empty()) {
      co_await asio::async_write(up.socket(), asio::buffer(first), redirect(ec));
      *up_bytes += first.size();
    }
    if (ec) {
      log.flags = "UF";
    } else {
      w.router.picker().started(&ep);
      co_await relay_both(w, client, up.socket(), up_bytes, down_bytes,
                          std::chrono::milliseconds(d.cluster().policy.connection_pool.tcp_idle_timeout_ms));
      w.router.picker().finished(&ep);
    }
  }
  log.request_bytes = *up_bytes;
  log.response_bytes = *down_bytes;
  log.duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (options.access_log) options.access_log(format_access_log(log));
}

// A Gateway port whose servers are all `tls.mode: PASSTHROUGH`: the
// ClientHello's server name picks the server and then a tls route of the
// VirtualServices bound to its Gateway; TLS goes on to the endpoint
// unterminated. No server or no route for the name: the connection is
// closed (flag NR).
Task<void> ProxyServer::Impl::gateway_passthrough(Worker& w, Socket client, const Downstream& ds,
                                                  config::SnapshotPtr snap) {
  const auto start = std::chrono::steady_clock::now();
  AccessLogEntry log;
  log.downstream = ds.address;
  beast::error_code ec;
  const tcp::endpoint local = client.local_endpoint(ec);
  const uint32_t local_ip = ec ? 0 : local.address().to_v4().to_uint();
  if (!ec) log.authority = format_endpoint(local_ip, local.port());
  std::string first;
  const std::optional<std::string> sni = co_await read_client_hello(w, client, first);
  if (sni) log.server_name = *sni;
  const config::GatewayServer* server = nullptr;
  if (sni && !sni->empty()) {
    if (auto it = ds.gateway_servers->find(ds.gateway_port); it != ds.gateway_servers->end()) {
      server = config::find_gateway_server(it->second, *sni, config::ServerKind::kPassthrough);
    }
  }
  RouteDecision d;
  if (server) {
    d = w.router.decide_gateway_tls(std::move(snap), server->gateway, *sni, ds.gateway_port, local_ip, ds.peer_ip);
    const std::string& vs = d.virtual_service;
    if (d.endpoint && !config::gateway_server_allows(*server, *sni, std::string_view(vs).substr(0, vs.find('/')))) {
      d = RouteDecision{};  // hosts: ["ns/name"] keeps other namespaces' routes out
    }
  }
  if (!d.endpoint) log.flags = "NR";
  co_await relay_to_endpoint(w, client, first, d, log, start);
}

Task<void> ProxyServer::Impl::mirror(Worker& w, Request copy, RequestRouter::MirrorTarget target,
                                                config::SnapshotPtr keep) {
  const config::Endpoint& ep = *target.endpoint;
  TcpStream stream(w.ioc);
  beast::error_code ec;
  open_upstream(stream.socket(), target.socket_redirect, ec);
  copy.keep_alive(false);
  stream.expires_after(kMirrorTimeout);
  co_await stream.async_connect(tcp::endpoint(asio::ip::address_v4(ep.ip), ep.port),
                                redirect(ec));
  if (!ec) co_await http::async_write(stream, copy, redirect(ec));
  if (!ec) {
    // The response is discarded: wait for its headers, then hang up.
    beast::flat_buffer buf;
    http::response_parser<http::empty_body> discard;
    co_await http::async_read_header(stream, buf, discard, redirect(ec));
  }
  (void)keep;  // the endpoint lives in this snapshot
}

Result<std::unique_ptr<ProxyServer>> ProxyServer::start(ProxyOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  if (!impl->options.clusters) impl->options.clusters = std::make_shared<ClusterRegistry>();
  const unsigned n = std::max(1u, impl->options.workers);
  beast::error_code ec;
  const auto address = asio::ip::make_address(impl->options.address, ec);
  if (ec) return make_error(-EINVAL, "proxy: bad listen address " + impl->options.address);
  uint16_t port = impl->options.port;
  for (unsigned i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>(impl->options.clusters);
    const std::string where = "proxy: listen on " + impl->options.address + ":" + std::to_string(port);
    if (Status s = listen_reuseport(w->acceptor, tcp::endpoint(address, port), where); !s) return s.error();
    port = w->acceptor.local_endpoint().port();
    impl->workers.push_back(std::move(w));
  }
  impl->port = port;
  for (auto& w : impl->workers) {
    Worker* raw = w.get();
    asio::co_spawn(raw->ioc, impl->accept_loop(*raw), asio::detached);
    asio::co_spawn(raw->ioc, impl->sweep_idle(*raw), asio::detached);
    raw->thread = std::thread([raw] { raw->ioc.run(); });
  }
  return std::unique_ptr<ProxyServer>(new ProxyServer(std::move(impl)));
}

ProxyServer::ProxyServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ProxyServer::~ProxyServer() { stop(); }

uint16_t ProxyServer::port() const { return impl_->port; }

const std::shared_ptr<ClusterRegistry>& ProxyServer::clusters() const { return impl_->options.clusters; }

Status ProxyServer::set_gateway_ports(const std::set<uint16_t>& ports) {
  beast::error_code ec;
  const auto address = asio::ip::make_address(impl_->options.gateway_address, ec);
  if (ec) return make_error(-EINVAL, "gateway: bad listen address " + impl_->options.gateway_address);
  Status result;
  std::set<uint16_t> opened;  // newly opened on some worker
  for (auto& w : impl_->workers) {
    Worker* raw = w.get();
    // New acceptors are opened here, so bind errors can be returned; each
    // worker installs and drops its own on its thread.
    std::map<uint16_t, std::shared_ptr<Acceptor>> added;
    for (uint16_t port : ports) {
      if (impl_->gateway_ports.count(port)) continue;  // open on every worker already
      auto acc = std::make_shared<Acceptor>(raw->ioc);
      const std::string where = "gateway: listen on " + impl_->options.gateway_address + ":" + std::to_string(port);
      if (Status s = listen_reuseport(*acc, tcp::endpoint(address, port), where); !s) {
        if (result.ok()) result = std::move(s);
        continue;
      }
      added.emplace(port, std::move(acc));
    }
    for (const auto& [port, acc] : added) opened.insert(port);
    asio::post(raw->ioc, [impl = impl_.get(), raw, added = std::move(added), ports]() mutable {
      for (auto it = raw->gateway_acceptors.begin(); it != raw->gateway_acceptors.end();) {
        if (ports.count(it->first)) {
          ++it;
          continue;
        }
        beast::error_code ignored;
        it->second->close(ignored);
        it = raw->gateway_acceptors.erase(it);
      }
      for (auto& [port, acc] : added) {
        raw->gateway_acceptors[port] = acc;
        asio::co_spawn(raw->ioc, impl->gateway_accept_loop(*raw, acc, port), asio::detached);
      }
    });
  }
  std::set<uint16_t> now;
  for (uint16_t port : ports) {
    if (impl_->gateway_ports.count(port) || opened.count(port)) now.insert(port);
  }
  impl_->gateway_ports = std::move(now);
  return result;
}

std::set<uint16_t> ProxyServer::gateway_ports() const { return impl_->gateway_ports; }

void ProxyServer::stop() {
  if (impl_->stopped.exchange(true)) return;
  for (auto& w : impl_->workers) w->ioc.stop();
  for (auto& w : impl_->workers) {
    if (w->thread.joinable()) w->thread.join();
  }
}

}  // namespace sluice::proxy
