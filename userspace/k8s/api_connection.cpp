#include "api_connection.h"

#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <optional>

namespace sluice::kube {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr std::chrono::seconds kConnectTimeout{10};
constexpr size_t kMaxErrorBody = 64 * 1024;

bool is_ip_literal(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

Error error_of(const std::string& what, const beast::error_code& ec) { return Error{0, what + ": " + ec.message()}; }

}  // namespace

Result<std::shared_ptr<ssl::context>> make_tls_context(const ClusterAccess& access) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  beast::error_code ec;
  if (access.insecure_skip_verify) {
    ctx->set_verify_mode(ssl::verify_none);
  } else {
    ctx->set_verify_mode(ssl::verify_peer);
    if (access.ca_pem.empty()) {
      ctx->set_default_verify_paths(ec);
    } else {
      ctx->add_certificate_authority(asio::buffer(access.ca_pem), ec);
    }
    if (ec) return error_of("API server CA", ec);
  }
  if (!access.client_cert_pem.empty()) {
    ctx->use_certificate_chain(asio::buffer(access.client_cert_pem), ec);
    if (!ec) ctx->use_private_key(asio::buffer(access.client_key_pem), ssl::context::pem, ec);
    if (ec) return error_of("client certificate", ec);
  }
  return ctx;
}

struct ApiConnection::Impl {
  Impl(asio::io_context& ioc, std::shared_ptr<ssl::context> tls, const ClusterAccess& access, TokenSource& tokens)
      : ioc(ioc), tls(std::move(tls)), access(access), tokens(tokens) {}

  asio::io_context& ioc;
  std::shared_ptr<ssl::context> tls;
  const ClusterAccess access;
  TokenSource& tokens;
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream;
  beast::flat_buffer buffer;

  void close() {
    if (!stream) return;
    beast::error_code ignored;
    beast::get_lowest_layer(*stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(*stream).close();
    stream.reset();
    buffer.clear();
  }

  asio::awaitable<Status> connect() {
    if (stream) co_return Status{};
    beast::error_code ec;
    tcp::resolver resolver(ioc);
    auto endpoints = co_await resolver.async_resolve(access.host, access.port, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return error_of("resolve " + access.host, ec);
    stream.emplace(ioc, *tls);
    SSL* ssl_handle = stream->native_handle();
    if (!access.insecure_skip_verify) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
      const int ok = is_ip_literal(access.host) ? X509_VERIFY_PARAM_set1_ip_asc(param, access.host.c_str())
                                                : X509_VERIFY_PARAM_set1_host(param, access.host.c_str(), 0);
      if (ok != 1) co_return Error{0, "cannot verify against host " + access.host};
    }
    if (!is_ip_literal(access.host)) SSL_set_tlsext_host_name(ssl_handle, access.host.c_str());
    beast::get_lowest_layer(*stream).expires_after(kConnectTimeout);
    co_await beast::get_lowest_layer(*stream).async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      close();
      co_return error_of("connect " + access.server, ec);
    }
    co_await stream->async_handshake(ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      close();
      co_return error_of("TLS handshake with " + access.server, ec);
    }
    co_return Status{};
  }

  asio::awaitable<Status> send(const std::string& target, std::chrono::seconds timeout) {
    if (Status s = co_await connect(); !s) co_return s;
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, access.host);
    req.set(http::field::user_agent, "sluiced");
    req.set(http::field::accept, "application/json");
    const std::string token = tokens.token();
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    req.keep_alive(true);
    beast::get_lowest_layer(*stream).expires_after(timeout);
    beast::error_code ec;
    co_await http::async_write(*stream, req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      close();
      co_return error_of("GET " + target, ec);
    }
    co_return Status{};
  }
};

ApiConnection::ApiConnection(asio::io_context& ioc, std::shared_ptr<ssl::context> tls, const ClusterAccess& access,
                             TokenSource& tokens)
    : impl_(std::make_unique<Impl>(ioc, std::move(tls), access, tokens)) {}

ApiConnection::~ApiConnection() { impl_->close(); }

void ApiConnection::close() { impl_->close(); }

asio::awaitable<Result<ApiReply>> ApiConnection::get(const std::string& target, std::chrono::seconds timeout,
                                                     size_t max_body) {
  Impl& c = *impl_;
  if (Status s = co_await c.send(target, timeout); !s) co_return s.error();
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_body);
  beast::error_code ec;
  co_await http::async_read(*c.stream, c.buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    c.close();
    co_return error_of("GET " + target, ec);
  }
  auto& res = parser.get();
  ApiReply reply{res.result_int(), std::move(res.body())};
  if (!parser.keep_alive()) c.close();
  co_return reply;
}

asio::awaitable<Result<ApiReply>> ApiConnection::stream_lines(const std::string& target, std::chrono::seconds idle_timeout,
                                                              const std::function<bool(std::string_view)>& on_line,
                                                              size_t max_line) {
  Impl& c = *impl_;
  if (Status s = co_await c.send(target, idle_timeout); !s) co_return s.error();
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);  // a watch lasts as long as it lasts; lines are bounded below
  beast::error_code ec;
  co_await http::async_read_header(*c.stream, c.buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    c.close();
    co_return error_of("GET " + target, ec);
  }
  ApiReply reply{parser.get().result_int(), {}};
  const bool ok_status = reply.status == 200;
  std::string pending;  // the part of a line that has arrived
  char chunk[64 * 1024];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    beast::get_lowest_layer(*c.stream).expires_after(idle_timeout);
    // read_some, not read: read fills the whole buffer before it returns,
    // and a watch's events must be handled as they arrive.
    co_await http::async_read_some(*c.stream, c.buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      c.close();
      co_return error_of("GET " + target + " (stream)", ec);
    }
    const size_t got = sizeof chunk - parser.get().body().size;
    if (!ok_status) {
      // An error's body is a Status object: keep (the start of) it.
      reply.body.append(chunk, std::min(got, kMaxErrorBody - std::min(kMaxErrorBody, reply.body.size())));
      continue;
    }
    std::string_view data(chunk, got);
    while (!data.empty()) {
      const size_t nl = data.find('\n');
      if (nl == std::string_view::npos) {
        pending.append(data);
        break;
      }
      std::string_view line = data.substr(0, nl);
      if (!pending.empty()) {
        pending.append(line);
        line = pending;
      }
      if (!line.empty() && !on_line(line)) {
        c.close();
        co_return reply;
      }
      pending.clear();
      data.remove_prefix(nl + 1);
    }
    if (pending.size() > max_line) {
      c.close();
      co_return Error{0, "GET " + target + ": a line of more than " + std::to_string(max_line) + " bytes"};
    }
  }
  if (ok_status && !pending.empty()) on_line(pending);
  if (!parser.keep_alive()) c.close();
  co_return reply;
}

}  // namespace sluice::kube
