#include "admin_server.h"

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <exception>
#include <thread>

#include "json_writer.h"
#include "linger_close.h"

namespace sluice {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct AdminServer::Impl {
  // Declared before ioc: connection coroutines destroyed with the
  // io_context still read the routes and decrement the count.
  std::map<std::string, AdminHandler> routes;
  int connections = 0;  // touched only on the server thread

  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::thread thread;
};

namespace {

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

std::string error_body(std::string_view message) {
  JsonWriter w;
  w.begin_object().key("error").value(message).end_object();
  return std::move(w).str();
}

AdminResponse json_error(unsigned status, std::string_view message) {
  return AdminResponse{status, "application/json", error_body(message)};
}

AdminResponse dispatch(const std::map<std::string, AdminHandler>& routes, const Request& req) {
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    return json_error(405, "method not allowed");
  }
  AdminRequest request{std::string(req.target()), std::string(req[http::field::accept])};
  const std::string& target = request.target;
  auto it = routes.find(target.substr(0, target.find('?')));
  if (it == routes.end()) return json_error(404, "not found");
  // A buggy handler must cost one request, not the daemon's admin API.
  try {
    AdminResponse r = it->second(request);
    if (r.status < 100 || r.status > 999)
      return json_error(500, "handler returned an invalid status");
    return r;
  } catch (const std::exception& e) {
    return json_error(500, std::string("internal error: ") + e.what());
  } catch (...) {
    return json_error(500, "internal error");
  }
}

Response make_response(AdminResponse r, unsigned version, bool keep_alive, bool head) {
  Response res;
  res.version(version);
  res.result(r.status);
  res.set(http::field::server, "sluiced");
  res.set(http::field::content_type, r.content_type);
  res.set(http::field::cache_control, "no-store");
  if (r.status == 405) res.set(http::field::allow, "GET, HEAD");
  res.keep_alive(keep_alive);
  res.body() = std::move(r.body);
  res.prepare_payload();
  // HEAD keeps the Content-Length of the GET but sends no body.
  if (head) res.body().clear();
  return res;
}

// The status that answers a request that could not be read, or 0 when the
// connection should just be closed (EOF, timeout, reset: nobody to answer).
unsigned status_for_read_error(const beast::error_code& ec) {
  if (ec == http::error::header_limit) return 431;
  if (ec == http::error::body_limit) return 413;
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) return 0;
  if (ec.category() == beast::error_code(http::error::bad_target).category()) return 400;
  return 0;
}

asio::awaitable<void> serve_connection(AdminServer::Impl& impl, tcp::socket socket) {
  ++impl.connections;
  struct Release {
    int& n;
    ~Release() { --n; }
  } release{impl.connections};

  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(AdminServer::kMaxHeaderBytes);
    parser.body_limit(AdminServer::kMaxBodyBytes);
    beast::error_code ec;
    stream.expires_after(std::chrono::seconds(AdminServer::kReadTimeoutSeconds));
    co_await http::async_read(stream, buffer, parser,
                              asio::redirect_error(asio::use_awaitable, ec));

    Response res;
    bool keep_alive = false;
    if (ec) {
      unsigned status = status_for_read_error(ec);
      if (status == 0) break;
      res = make_response(json_error(status, ec.message()), 11, false, false);
    } else {
      const Request& req = parser.get();
      keep_alive = req.keep_alive();
      res = make_response(dispatch(impl.routes, req), req.version(), keep_alive,
                          req.method() == http::verb::head);
    }

    stream.expires_after(std::chrono::seconds(AdminServer::kWriteTimeoutSeconds));
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    if (!keep_alive) {
      co_await linger_close(stream);
      break;
    }
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

asio::awaitable<void> accept_loop(AdminServer::Impl& impl) {
  asio::steady_timer backoff(impl.ioc);
  for (;;) {
    beast::error_code ec;
    tcp::socket socket =
        co_await impl.acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Typically EMFILE: retrying at once would spin.
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (impl.connections >= AdminServer::kMaxConnections) continue;  // socket closes here
    asio::co_spawn(impl.ioc, serve_connection(impl, std::move(socket)), asio::detached);
  }
}

}  // namespace

Result<std::unique_ptr<AdminServer>> AdminServer::start(
    const std::string& address, uint16_t port, std::map<std::string, AdminHandler> routes, int inherited_fd) {
  const std::string where = "admin server: " + address + ":" + std::to_string(port);
  beast::error_code ec;
  auto ip = asio::ip::make_address(address, ec);
  if (ec) return make_error(-EINVAL, where + ": not a numeric IP address");

  auto impl = std::make_unique<Impl>();
  impl->routes = std::move(routes);
  tcp::endpoint endpoint(ip, port);
  auto& acceptor = impl->acceptor;
  if (inherited_fd >= 0) {
    // Bound and listening already: the process this one replaces made it.
    if (acceptor.assign(endpoint.protocol(), inherited_fd, ec)) {
      ::close(inherited_fd);
      return make_error(-ec.value(), where + ": handed-over socket");
    }
  } else {
    if (acceptor.open(endpoint.protocol(), ec)) return make_error(-ec.value(), where + ": socket");
    if (acceptor.set_option(asio::socket_base::reuse_address(true), ec)) {
      return make_error(-ec.value(), where + ": SO_REUSEADDR");
    }
    if (acceptor.bind(endpoint, ec)) return make_error(-ec.value(), where + ": bind");
    if (acceptor.listen(asio::socket_base::max_listen_connections, ec)) {
      return make_error(-ec.value(), where + ": listen");
    }
  }
  uint16_t bound = acceptor.local_endpoint(ec).port();
  if (ec) return make_error(-ec.value(), where + ": getsockname");

  asio::co_spawn(impl->ioc, accept_loop(*impl), asio::detached);
  impl->thread = std::thread([&ioc = impl->ioc] { ioc.run(); });
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(impl), bound));
}

AdminServer::AdminServer(std::unique_ptr<Impl> impl, uint16_t port)
    : impl_(std::move(impl)), port_(port), listener_fd_(impl_->acceptor.native_handle()) {}

AdminServer::~AdminServer() { stop(); }

void AdminServer::stop() {
  std::lock_guard lock(stop_mutex_);
  if (!impl_) return;
  // Stopping the io_context abandons every pending operation. Destroying it
  // then destroys the suspended coroutines, which closes the listener and
  // every connection now rather than when the server object goes away.
  listener_fd_ = -1;
  impl_->ioc.stop();
  impl_->thread.join();
  impl_.reset();
}

}  // namespace sluice
