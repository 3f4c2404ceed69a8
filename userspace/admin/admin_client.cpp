#include "admin_client.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <optional>

namespace sluice {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

using GetResult = Result<std::pair<unsigned, std::string>>;

Error to_error(const beast::error_code& ec, const std::string& what) {
  if (ec == beast::error::timeout) return make_error(-ETIMEDOUT, what);
  if (ec.category() == asio::error::get_system_category()) return make_error(-ec.value(), what);
  return make_error(-EPROTO, what + ": " + ec.message());
}

asio::awaitable<void> fetch(const std::string& host, uint16_t port, const std::string& target,
                            std::chrono::steady_clock::time_point deadline,
                            std::optional<GetResult>& out) {
  const std::string what = "GET http://" + host + ":" + std::to_string(port) + target;
  auto ex = co_await asio::this_coro::executor;
  auto fail = [&](const beast::error_code& ec) { out.emplace(to_error(ec, what)); };
  beast::error_code ec;

  // A numeric address needs no resolver, whose getaddrinfo the deadline
  // could not interrupt.
  std::vector<tcp::endpoint> endpoints;
  if (auto ip = asio::ip::make_address(host, ec); !ec) {
    endpoints.emplace_back(ip, port);
  } else {
    tcp::resolver resolver(ex);
    auto results = co_await resolver.async_resolve(host, std::to_string(port),
                                                   asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return fail(ec);
    for (const auto& r : results) endpoints.push_back(r.endpoint());
  }

  beast::tcp_stream stream(ex);
  stream.expires_at(deadline);  // one deadline for connect, write and read
  co_await stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return fail(ec);

  http::request<http::empty_body> req(http::verb::get, target, 11);
  req.set(http::field::host, host + ":" + std::to_string(port));
  req.set(http::field::user_agent, "sluicectl");
  req.keep_alive(false);
  co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return fail(ec);

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxAdminResponseBytes);
  co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return fail(ec);

  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  auto res = parser.release();
  out.emplace(std::pair{res.result_int(), std::move(res.body())});
}

}  // namespace

Result<std::pair<unsigned, std::string>> http_get(const std::string& host, uint16_t port,
                                                  const std::string& target,
                                                  std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  asio::io_context ioc{1};
  std::optional<GetResult> out;
  asio::co_spawn(ioc, fetch(host, port, target, deadline, out), asio::detached);
  ioc.run();
  if (!out) return make_error(-EIO, "GET " + target + ": request did not complete");
  return std::move(*out);
}

}  // namespace sluice
