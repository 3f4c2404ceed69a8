#include "otlp_receiver.h"

#include <utility>  // before asio's awaitable.hpp (GCC 12, Boost 1.74)

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <functional>

namespace sluice {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct OtlpReceiver::Impl {
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
};

namespace {

asio::awaitable<void> serve(tcp::socket sock, std::atomic<unsigned>& status,
                            std::function<void(const std::string&, bool)> take) {
  beast::flat_buffer buf;
  beast::error_code ec;
  for (;;) {
    http::request<http::string_body> req;
    co_await http::async_read(sock, buf, req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    const bool ok_shape = req.method() == http::verb::post && req.target() == "/v1/traces";
    take(req.body(), ok_shape && req[http::field::content_type] == "application/x-protobuf");
    http::response<http::string_body> res{static_cast<http::status>(status.load()), 11};
    res.set(http::field::content_type, "application/x-protobuf");
    res.body() = "";  // an empty ExportTraceServiceResponse: everything accepted
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    co_await http::async_write(sock, res, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !req.keep_alive()) co_return;
  }
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, std::atomic<unsigned>& status,
                                  std::function<void(const std::string&, bool)> take) {
  for (;;) {
    beast::error_code ec;
    tcp::socket sock = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    asio::co_spawn(acceptor.get_executor(), serve(std::move(sock), status, take), asio::detached);
  }
}

}  // namespace

std::string span_attribute(const otlp::Span& span, std::string_view key) {
  for (const auto& kv : span.attributes()) {
    if (kv.key() == key) return kv.value().string_value();
  }
  return "<absent>";
}

std::string id_bytes(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoul(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

OtlpReceiver::OtlpReceiver(uint16_t port, bool keep) : impl_(std::make_unique<Impl>()), keep_(keep) {
  tcp::endpoint ep(asio::ip::make_address_v4("127.0.0.1"), port);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  asio::co_spawn(impl_->ioc,
                 accept_loop(impl_->acceptor, status_,
                             [this](const std::string& body, bool protobuf) { take(body, protobuf); }),
                 asio::detached);
  thread_ = std::thread([this] { impl_->ioc.run(); });
}

OtlpReceiver::~OtlpReceiver() {
  impl_->ioc.stop();
  if (thread_.joinable()) thread_.join();
}

void OtlpReceiver::take(const std::string& body, bool protobuf) {
  posts_.fetch_add(1);
  otlp::ExportTraceServiceRequest req;
  if (!protobuf || !req.ParseFromString(body)) {
    bad_posts_.fetch_add(1);
    return;
  }
  std::lock_guard lock(mu_);
  for (const auto& rs : req.resource_spans()) {
    if (keep_) resource_.assign(rs.resource().attributes().begin(), rs.resource().attributes().end());
    for (const auto& ss : rs.scope_spans()) {
      spans_seen_.fetch_add(static_cast<uint64_t>(ss.spans_size()));
      if (keep_) spans_.insert(spans_.end(), ss.spans().begin(), ss.spans().end());
    }
  }
}

std::vector<otlp::Span> OtlpReceiver::spans() const {
  std::lock_guard lock(mu_);
  return spans_;
}

std::vector<otlp::KeyValue> OtlpReceiver::last_resource() const {
  std::lock_guard lock(mu_);
  return resource_;
}

}  // namespace sluice
