#include "proxy_server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <thread>

#include "gateway_session.h"
#include "http_session.h"
#include "ip_text.h"
#include "listen_socket.h"
#include "tcp_proxy.h"
#include "worker.h"

namespace sluice::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

struct ProxyServer::Impl {
  ProxyOptions options;
  std::vector<std::unique_ptr<Worker>> workers;
  uint16_t port = 0;
  std::atomic<bool> stopped{false};
  std::set<uint16_t> gateway_ports;  // listening on every worker; changed by set_gateway_ports only
};

namespace {

// A mesh connection the kernel redirected here: opaque TCP when its service
// port is not HTTP (tcp/tls routes took it), else HTTP/1.1 sessions.
Task<void> session(Worker& w, Socket socket) {
  beast::error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) co_return;
  Downstream ds;
  ds.peer_ip = peer.address().to_v4().to_uint();
  ds.dst = w.options.original_destination ? w.options.original_destination(ds.peer_ip, peer.port()) : std::nullopt;
  ds.address = format_endpoint(ds.peer_ip, peer.port());
  // Responses go out as soon as they are written, not after Nagle's delay.
  socket.set_option(tcp::no_delay(true), ec);
  if (ds.dst) {
    config::SnapshotPtr snap = w.snapshot();
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

Task<void> accept_loop(Worker& w) {
  for (;;) {
    beast::error_code ec;
    Socket s = co_await w.acceptor.async_accept(redirect(ec));
    if (ec == asio::error::operation_aborted || w.stopped) co_return;
    if (ec) continue;
    asio::co_spawn(w.ioc, session(w, std::move(s)), asio::detached);
  }
}

// The worker's housekeeping tick: header deadlines, and pooled upstream
// connections idle past their cluster's idleTimeout.
Task<void> sweep(Worker& w) {
  Timer tick(w.ioc);
  beast::error_code ec;
  while (!w.stopped) {
    tick.expires_after(kIdleSweepInterval);
    co_await tick.async_wait(redirect(ec));
    const auto now = std::chrono::steady_clock::now();
    w.header_waits.expire(now);
    w.pool.sweep(now);
  }
}

}  // namespace

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
    auto w = std::make_unique<Worker>(impl->options, impl->stopped);
    const std::string where = "proxy: listen on " + impl->options.address + ":" + std::to_string(port);
    if (Status s = listen_reuseport(w->acceptor, tcp::endpoint(address, port), where); !s) return s.error();
    port = w->acceptor.local_endpoint().port();
    impl->workers.push_back(std::move(w));
  }
  impl->port = port;
  for (auto& w : impl->workers) {
    Worker* raw = w.get();
    asio::co_spawn(raw->ioc, accept_loop(*raw), asio::detached);
    asio::co_spawn(raw->ioc, sweep(*raw), asio::detached);
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
    asio::post(raw->ioc, [raw, added = std::move(added), ports]() mutable {
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
        asio::co_spawn(raw->ioc, gateway_accept_loop(*raw, acc, port), asio::detached);
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
