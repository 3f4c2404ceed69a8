#include "gateway_session.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/ssl.hpp>

#include "client_hello_reader.h"
#include "h2_session.h"
#include "http_session.h"
#include "ip_text.h"
#include "preface_sniff.h"
#include "tcp_proxy.h"

namespace sluice::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

// A Gateway port whose servers are all `tls.mode: PASSTHROUGH`: the
// ClientHello's server name picks the server and then a tls route of the
// VirtualServices bound to its Gateway; TLS goes on to the endpoint
// unterminated. No server or no route for the name: the connection is
// closed (flag NR).
Task<void> gateway_passthrough(Worker& w, Socket client, const Downstream& ds, config::SnapshotPtr snap) {
  const auto start = std::chrono::steady_clock::now();
  telemetry::AccessLogEntry log;
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
  if (!d.endpoint) log.flags = telemetry::ResponseFlag::kNoRouteFound;
  co_await relay_to_endpoint(w, client, first, d, log, start);
}

Task<void> gateway_session(Worker& w, Socket socket, uint16_t port) {
  CountedConnection counted(w);
  beast::error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) co_return;
  Downstream ds;
  ds.peer_ip = peer.address().to_v4().to_uint();
  ds.address = format_endpoint(ds.peer_ip, peer.port());
  ds.gateway_port = port;
  socket.set_option(tcp::no_delay(true), ec);
  config::SnapshotPtr snap = w.snapshot();
  ds.gateway_servers = w.servers_for(snap);
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
    // Plain text: HTTP/1.1 (an `Upgrade: h2c` included), or h2c with prior
    // knowledge, what gRPC clients without TLS send; told apart by the
    // preface, as on the mesh port.
    TcpStream stream(std::move(socket));
    co_await serve_sniffed(w, stream, buffer, ds);
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
    if (w.logging()) {
      telemetry::AccessLogEntry log;
      log.downstream = ds.address;
      log.flags = telemetry::ResponseFlag::kDownstreamConnectionTermination;
      log.path = "tls handshake: " + (hs.error.empty() ? ec.message() : hs.error);
      w.options.access_log(telemetry::format_access_log(log));
    }
    co_return;
  }
  ds.tls_server = hs.chosen;
  const unsigned char* alpn = nullptr;
  unsigned alpn_len = 0;
  SSL_get0_alpn_selected(stream.native_handle(), &alpn, &alpn_len);
  if (std::string_view(reinterpret_cast<const char*>(alpn), alpn ? alpn_len : 0) == "h2") {
    co_await serve_h2(w, stream, buffer, ds);
  } else {
    co_await serve(w, stream, buffer, ds);
  }
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(1));
  co_await stream.async_shutdown(redirect(ec));
}

void count_gateway_loop(Worker& w, uint16_t port, int delta) {
  std::lock_guard lock(w.listening_mu);
  if ((w.gateway_listening[port] += delta) <= 0) w.gateway_listening.erase(port);
}

}  // namespace

Task<void> gateway_accept_loop(Worker& w, std::shared_ptr<Acceptor> acceptor, uint16_t port) {
  count_gateway_loop(w, port, +1);
  for (;;) {
    beast::error_code ec;
    Socket s = co_await acceptor->async_accept(redirect(ec));
    // Served even if the listener closed since (accept_loop in proxy_server.cpp).
    if (!ec && !w.stopped) asio::co_spawn(w.ioc, gateway_session(w, std::move(s), port), asio::detached);
    if (ec == asio::error::operation_aborted || !acceptor->is_open() || w.stopped) break;
  }
  co_await asio::post(w.ioc, use_task);  // that session counts itself first, as in accept_loop
  count_gateway_loop(w, port, -1);
}


}  // namespace sluice::proxy
