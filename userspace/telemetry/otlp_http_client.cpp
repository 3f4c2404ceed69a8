#include "otlp_http_client.h"

#include <utility>  // before asio's awaitable.hpp (GCC 12, Boost 1.74)

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <optional>

namespace sluice::telemetry {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

Result<HttpUrl> parse_http_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) return make_error(0, "OTLP endpoint " + std::string(url) + ": only http:// URLs");
  std::string_view rest = url.substr(kScheme.size());
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  HttpUrl out;
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    out.host = std::string(authority.substr(0, colon));
    out.port = std::string(authority.substr(colon + 1));
  } else {
    out.host = std::string(authority);
    out.port = "80";
  }
  if (out.host.empty() || out.port.empty() ||
      out.port.find_first_not_of("0123456789") != std::string::npos || out.port.size() > 5) {
    return make_error(0, "OTLP endpoint " + std::string(url) + ": expected http://host[:port][/path]");
  }
  return out;
}

struct OtlpHttpClient::Impl {
  HttpUrl url;
  std::chrono::milliseconds timeout;
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;  // kept between posts
  beast::flat_buffer buffer;

  std::string error;  // why the last exchange gave 0

  // One exchange on the kept connection, or a new one. An error before any
  // answer on a reused connection (the receiver closed it while idle) is
  // retried once on a fresh one.
  asio::awaitable<unsigned> exchange(const std::string& body) {
    http::request<http::string_body> req{http::verb::post, url.target, 11};
    req.set(http::field::host, url.host + ":" + url.port);
    req.set(http::field::content_type, "application/x-protobuf");
    req.body() = body;
    req.prepare_payload();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    beast::error_code ec;
    for (int fresh = 0; fresh < 2; ++fresh) {
      if (!stream) {
        tcp::resolver resolver(ioc);
        auto found = co_await resolver.async_resolve(url.host, url.port, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return fail("resolve " + url.host + ": " + ec.message());
        stream.emplace(ioc);
        stream->expires_at(deadline);
        co_await stream->async_connect(found, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
          stream.reset();
          co_return fail("connect " + url.host + ":" + url.port + ": " + ec.message());
        }
        fresh = 1;
        buffer.clear();
      }
      stream->expires_at(deadline);
      co_await http::async_write(*stream, req, asio::redirect_error(asio::use_awaitable, ec));
      http::response<http::string_body> res;
      if (!ec) co_await http::async_read(*stream, buffer, res, asio::redirect_error(asio::use_awaitable, ec));
      if (!ec) {
        if (!res.keep_alive()) stream.reset();
        co_return res.result_int();
      }
      stream.reset();
      if (ec == beast::error::timeout) break;
    }
    co_return fail("POST " + url.target + ": " + ec.message());
  }

  unsigned fail(std::string why) {
    error = std::move(why);
    return 0;
  }
};

OtlpHttpClient::OtlpHttpClient(HttpUrl url, std::chrono::milliseconds timeout) : impl_(std::make_unique<Impl>()) {
  impl_->url = std::move(url);
  impl_->timeout = timeout;
}

OtlpHttpClient::~OtlpHttpClient() = default;

Result<unsigned> OtlpHttpClient::post(const std::string& body) {
  unsigned status = 0;
  impl_->error = "OTLP export did not finish";
  asio::co_spawn(impl_->ioc, impl_->exchange(body), [&status](std::exception_ptr e, unsigned s) {
    if (!e) status = s;
  });
  impl_->ioc.restart();
  impl_->ioc.run();
  if (status == 0) return make_error(0, impl_->error);
  return status;
}

}  // namespace sluice::telemetry
