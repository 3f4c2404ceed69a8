#include "websocket_tunnel.h"

#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>

#include "attempt.h"
#include "ip_text.h"
#include "local_reply.h"
#include "relay.h"

namespace sluice::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

Task<void> tunnel(Worker& w, TcpStream& client, beast::flat_buffer& client_buf, Request& req, const RouteDecision& d,
                  telemetry::AccessLogEntry& log) {
  const config::Endpoint& ep = *d.endpoint;
  log.upstream = format_endpoint(ep.ip, ep.port);
  log.upstream_ip = ep.ip;
  log.attempts = 1;
  TcpStream up(w.ioc);
  beast::error_code ec;
  // The tunnel is plain TCP: toward a destination that originates TLS it
  // would carry in plaintext what must be encrypted, so it is refused.
  if (d.target->tls) {
    ec = boost::asio::error::no_protocol_option;
    log.upstream_transport_failure_reason = "TLS_error: an upgraded connection cannot originate TLS";
  } else {
    co_await connect_upstream(w, up, *d.target, ep, ec);
  }
  if (ec) {
    log.flags = telemetry::ResponseFlag::kUpstreamConnectionFailure;
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
    log.flags = telemetry::ResponseFlag::kUpstreamConnectionTermination;
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
  co_await relay_both(w.ioc, cs, us, bytes, bytes, std::chrono::milliseconds(0));
  log.response_bytes = *bytes;
}

}  // namespace sluice::proxy
