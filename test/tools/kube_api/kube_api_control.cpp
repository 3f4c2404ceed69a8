#include "kube_api_control.h"

#include <pthread.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <cerrno>
#include <charconv>
#include <functional>
#include <thread>

#include "json_writer.h"
#include "kube_api_routes.h"
#include "listen_socket.h"

namespace sluice::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

auto redirect(beast::error_code& ec) { return asio::redirect_error(asio::use_awaitable, ec); }

struct Reply {
  int status = 200;
  std::string body;
};

Reply ok(std::string body = "{}") { return {200, std::move(body)}; }

Reply fail(int status, std::string_view message) {
  JsonWriter w;
  w.begin_object().key("error").value(message).end_object();
  return {status, std::move(w).str()};
}

Reply version_reply(const Result<uint64_t>& rv) {
  if (!rv) return fail(rv.error().code == -ENOENT ? 404 : 400, rv.error().message);
  return ok("{\"resourceVersion\":\"" + std::to_string(rv.value()) + "\"}");
}

std::optional<double> number(const KubeQuery& q, std::string_view name) {
  auto v = q.get(name);
  if (!v) return std::nullopt;
  double d = -1;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), d);
  if (ec != std::errc() || ptr != v->data() + v->size() || d < 0 || d > 1e9) return std::nullopt;
  return d;
}

struct Endpoint {
  http::verb method;
  std::string_view path;
  std::function<Reply(KubeApiServer&, const KubeQuery&, const std::string& body)> run;
};

const std::vector<Endpoint>& endpoints() {
  using Q = const KubeQuery&;
  using B = const std::string&;
  static const std::vector<Endpoint> table = {
      {http::verb::get, "/healthz", [](KubeApiServer&, Q, B) { return Reply{200, "ok"}; }},
      {http::verb::post, "/apply", [](KubeApiServer& s, Q, B body) { return version_reply(s.apply(body)); }},
      {http::verb::post, "/delete",
       [](KubeApiServer& s, Q q, B body) {
         if (q.get("resource")) {
           if (q.value("name").empty()) return fail(400, "name= is required with resource=");
           return version_reply(s.remove(q.value("resource"), q.value("namespace"), q.value("name")));
         }
         return version_reply(s.remove(body));
       }},
      {http::verb::get, "/object",
       [](KubeApiServer& s, Q q, B) {
         auto obj = s.get(q.value("resource"), q.value("namespace"), q.value("name"));
         return obj ? ok(std::move(*obj)) : fail(404, "not found");
       }},
      {http::verb::post, "/compact",
       [](KubeApiServer& s, Q, B) {
         s.compact();
         return version_reply(s.resource_version());
       }},
      {http::verb::post, "/bookmark",
       [](KubeApiServer& s, Q, B) {
         s.bookmark();
         return version_reply(s.resource_version());
       }},
      {http::verb::post, "/drop-watches",
       [](KubeApiServer& s, Q, B) { return ok("{\"dropped\":" + std::to_string(s.drop_watches()) + "}"); }},
      {http::verb::post, "/down",
       [](KubeApiServer& s, Q q, B) {
         auto seconds = number(q, "seconds");
         if (q.get("seconds") && !seconds) return fail(400, "seconds: expected a number of seconds");
         s.go_down(std::chrono::milliseconds(static_cast<int64_t>(seconds.value_or(0) * 1000)));
         return ok();
       }},
      {http::verb::post, "/up",
       [](KubeApiServer& s, Q, B) {
         s.come_up();
         return ok();
       }},
      {http::verb::post, "/token",
       [](KubeApiServer& s, Q q, B) {
         auto grace = number(q, "grace_seconds");
         if (q.value("value").empty()) return fail(400, "value= is required");
         if (q.get("grace_seconds") && !grace) return fail(400, "grace_seconds: expected a number of seconds");
         s.set_token(q.value("value"), std::chrono::seconds(static_cast<int64_t>(grace.value_or(0))));
         return ok();
       }},
      {http::verb::post, "/forbid",
       [](KubeApiServer& s, Q q, B) {
         if (q.value("resource").empty()) return fail(400, "resource= is required");
         s.forbid(q.value("resource"), true);
         return ok();
       }},
      {http::verb::post, "/allow",
       [](KubeApiServer& s, Q q, B) {
         if (q.value("resource").empty()) return fail(400, "resource= is required");
         s.forbid(q.value("resource"), false);
         return ok();
       }},
      {http::verb::post, "/watch-chunk-bytes",
       [](KubeApiServer& s, Q q, B) {
         auto n = number(q, "bytes");
         if (!n) return fail(400, "bytes: expected a byte count");
         s.set_watch_chunk_bytes(static_cast<size_t>(*n));
         return ok();
       }},
      {http::verb::post, "/page-size",
       [](KubeApiServer& s, Q q, B) {
         auto n = number(q, "limit");
         if (!n) return fail(400, "limit: expected an item count");
         s.set_max_page_size(static_cast<size_t>(*n));
         return ok();
       }},
      {http::verb::get, "/stats", [](KubeApiServer& s, Q, B) { return ok(s.stats_json()); }},
      {http::verb::post, "/stats/reset",
       [](KubeApiServer& s, Q, B) {
         s.reset_counts();
         return ok();
       }},
  };
  return table;
}

Reply dispatch(KubeApiServer& server, const http::request<http::string_body>& req) {
  std::string_view target(req.target().data(), req.target().size());
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  auto query = KubeQuery::parse(q == std::string_view::npos ? std::string_view{} : target.substr(q + 1));
  if (!query) return fail(400, query.error().message);
  bool path_known = false;
  for (const Endpoint& e : endpoints()) {
    if (e.path != path) continue;
    path_known = true;
    if (e.method == req.method()) return e.run(server, *query, req.body());
  }
  return path_known ? fail(405, "method not allowed") : fail(404, "no such control endpoint");
}

}  // namespace

struct KubeApiControl::Impl {
  KubeApiServer& server;
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::thread thread;
  uint16_t port = 0;

  explicit Impl(KubeApiServer& s) : server(s) {}

  asio::awaitable<void> serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(64 * 1024);
      parser.body_limit(kMaxBodyBytes);
      beast::error_code ec;
      stream.expires_after(std::chrono::minutes(5));
      co_await http::async_read_header(stream, buffer, parser, redirect(ec));
      if (!ec && parser.get()[http::field::expect] == "100-continue") {
        // curl waits a second for this before sending a large body.
        http::response<http::empty_body> go_on{http::status::continue_, 11};
        co_await http::async_write(stream, go_on, redirect(ec));
      }
      if (!ec && !parser.is_done()) co_await http::async_read(stream, buffer, parser, redirect(ec));
      Reply reply;
      http::request<http::string_body> req;
      if (ec == http::error::end_of_stream || ec == asio::error::eof) break;
      if (ec) {
        reply = fail(ec == http::error::body_limit ? 413 : 400, ec.message());
        req.keep_alive(false);
      } else {
        req = parser.release();
        reply = dispatch(server, req);
      }
      http::response<http::string_body> res{static_cast<http::status>(reply.status), 11};
      res.set(http::field::content_type, reply.body == "ok" ? "text/plain" : "application/json");
      res.body() = std::move(reply.body);
      res.prepare_payload();
      res.keep_alive(req.keep_alive());
      co_await http::async_write(stream, res, redirect(ec));
      if (ec || !req.keep_alive()) break;
    }
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      beast::error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(redirect(ec));
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      if (!ec) asio::co_spawn(ioc, serve(std::move(socket)), asio::detached);
    }
  }
};

Result<std::unique_ptr<KubeApiControl>> KubeApiControl::start(KubeApiServer& server, uint16_t port) {
  auto impl = std::make_unique<Impl>(server);
  const tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), port);
  if (Status s = listen_reuseport(impl->acceptor, endpoint, "kube-api control: listen"); !s) return s.error();
  beast::error_code ec;
  impl->port = impl->acceptor.local_endpoint(ec).port();
  asio::co_spawn(impl->ioc, impl->accept_loop(), asio::detached);
  impl->thread = std::thread([&ioc = impl->ioc] { ioc.run(); });
  pthread_setname_np(impl->thread.native_handle(), "kube-api-ctl");
  return std::unique_ptr<KubeApiControl>(new KubeApiControl(std::move(impl)));
}

KubeApiControl::KubeApiControl(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KubeApiControl::~KubeApiControl() { stop(); }

uint16_t KubeApiControl::port() const { return impl_->port; }

void KubeApiControl::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->ioc.stop();
  impl_->thread.join();
}

}  // namespace sluice::testing
