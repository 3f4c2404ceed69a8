#include "proxy_server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

#include <unistd.h>

#include <atomic>
#include <future>
#include <thread>

#include "gateway_session.h"
#include "ip_text.h"
#include "listen_socket.h"
#include "preface_sniff.h"
#include "tcp_proxy.h"
#include "worker.h"

namespace sluice::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

// How long listener_fds waits for a worker's thread to answer.
constexpr std::chrono::seconds kListenerQuery{1};

struct ProxyServer::Impl {
  ProxyOptions options;
  std::vector<std::unique_ptr<Worker>> workers;
  uint16_t port = 0;
  std::atomic<bool> stopped{false};
  std::atomic<bool> draining{false};
  std::set<uint16_t> gateway_ports;  // listening on every worker; changed by set_gateway_ports only
  // Handed-over gateway listeners not taken yet, by port (main thread only).
  std::map<uint16_t, std::vector<int>> inherited_gateway;
};

namespace {

// A mesh connection the kernel redirected here: opaque TCP when its service
// port is not HTTP (tcp/tls routes took it), else HTTP/2 when it opens with
// the h2 client preface, else HTTP/1.1 sessions.
Task<void> session(Worker& w, Socket socket) {
  CountedConnection counted(w);
  beast::error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) co_return;
  const tcp::endpoint local = socket.local_endpoint(ec);
  if (ec) co_return;
  Downstream ds;
  ds.peer_ip = peer.address().to_v4().to_uint();
  ds.dst = w.options.original_destination ? w.options.original_destination(ds.peer_ip, peer.port(), local.port())
                                          : std::nullopt;
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
  co_await serve_sniffed(w, stream, buffer, ds);
  stream.socket().shutdown(Socket::shutdown_send, ec);
}

void set_mesh_listening(Worker& w, bool on) {
  std::lock_guard lock(w.listening_mu);
  w.mesh_listening = on;
}

Task<void> accept_loop(Worker& w) {
  set_mesh_listening(w, true);
  for (;;) {
    beast::error_code ec;
    Socket s = co_await w.acceptor.async_accept(redirect(ec));
    // A connection taken off the queue is served even when the drain closed
    // the listener between the accept and this line: dropping it would reset
    // a client (after a hand-over the listener closes at once, while clients
    // told `Connection: close` are reconnecting).
    if (!ec && !w.stopped) asio::co_spawn(w.ioc, session(w, std::move(s)), asio::detached);
    if (ec == asio::error::operation_aborted || !w.acceptor.is_open() || w.stopped) break;
  }
  // Let a session spawned just above start and count itself first: the drain
  // is over when no listener accepts and no connection is counted.
  co_await asio::post(w.ioc, use_task);
  set_mesh_listening(w, false);
}

// The drain on one worker: idle connections close soon, and after the
// grace the listeners close (connections in flight carry on).
Task<void> drain_worker(Worker& w, std::chrono::milliseconds accept_grace) {
  w.header_waits.cap(std::chrono::steady_clock::now() + kDrainIdleClose);
  Timer grace(w.ioc);
  grace.expires_after(accept_grace);
  beast::error_code ec;
  co_await grace.async_wait(redirect(ec));
  w.acceptor.close(ec);
  for (auto& [port, acc] : w.gateway_acceptors) acc->close(ec);
  w.gateway_acceptors.clear();
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
    w.h2_pool.sweep(now);
  }
}

}  // namespace

namespace {

// Takes one handed-over listener of `port` into `acceptor`, if one is left.
bool adopt_listener(std::map<uint16_t, std::vector<int>>& inherited, uint16_t port, Acceptor& acceptor) {
  auto it = inherited.find(port);
  if (it == inherited.end() || it->second.empty()) return false;
  const int fd = it->second.back();
  it->second.pop_back();
  beast::error_code ec;
  acceptor.assign(tcp::v4(), fd, ec);
  if (ec) {
    ::close(fd);
    return false;
  }
  return true;
}

void close_listeners(std::map<uint16_t, std::vector<int>>& fds, const std::set<uint16_t>& keep) {
  for (auto it = fds.begin(); it != fds.end();) {
    if (keep.count(it->first)) {
      ++it;
      continue;
    }
    for (int fd : it->second) ::close(fd);
    it = fds.erase(it);
  }
}

}  // namespace

Result<std::unique_ptr<ProxyServer>> ProxyServer::start(ProxyOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  std::map<uint16_t, std::vector<int>> inherited = std::move(impl->options.inherited_listeners);
  impl->options.inherited_listeners.clear();
  if (!impl->options.clusters) impl->options.clusters = std::make_shared<ClusterRegistry>();
  if (!impl->options.rate_limits) impl->options.rate_limits = std::make_shared<policy::RateLimitRegistry>();
  uint16_t port = impl->options.port;
  // Every handed-over mesh listener gets a worker: closing one would reset
  // the connections waiting in its accept queue.
  const size_t handed = inherited.count(port) ? inherited[port].size() : 0;
  const unsigned n = std::max<unsigned>({1u, impl->options.workers, static_cast<unsigned>(handed)});
  beast::error_code ec;
  const auto address = asio::ip::make_address(impl->options.address, ec);
  if (ec) {
    close_listeners(inherited, {});
    return make_error(-EINVAL, "proxy: bad listen address " + impl->options.address);
  }
  for (unsigned i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>(impl->options, impl->stopped, impl->draining);
    const std::string where = "proxy: listen on " + impl->options.address + ":" + std::to_string(port);
    if (!adopt_listener(inherited, port, w->acceptor)) {
      if (Status s = listen_reuseport(w->acceptor, tcp::endpoint(address, port), where); !s) {
        close_listeners(inherited, {});
        return s.error();
      }
    }
    port = w->acceptor.local_endpoint().port();
    impl->workers.push_back(std::move(w));
  }
  inherited.erase(impl->options.port);
  impl->inherited_gateway = std::move(inherited);
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
  if (impl_->draining) return {};  // the listeners are closing for good
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
      if (adopt_listener(impl_->inherited_gateway, port, *acc)) {
        added.emplace(port, std::move(acc));
        continue;
      }
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
  // Handed-over ports this config does not want, and any beyond one per
  // worker, close now, as a port dropped from the config would.
  close_listeners(impl_->inherited_gateway, {});
  return result;
}

std::set<uint16_t> ProxyServer::gateway_ports() const { return impl_->gateway_ports; }

int ProxyServer::mesh_listener_fd() const { return impl_->workers.front()->acceptor.native_handle(); }

bool ProxyServer::mesh_accepting() const {
  for (const auto& w : impl_->workers) {
    std::lock_guard lock(w->listening_mu);
    if (!w->mesh_listening) return false;
  }
  return true;
}

std::set<uint16_t> ProxyServer::gateway_ports_accepting() const {
  std::map<uint16_t, size_t> workers_on;
  for (const auto& w : impl_->workers) {
    std::lock_guard lock(w->listening_mu);
    for (const auto& [port, loops] : w->gateway_listening) {
      if (loops > 0) ++workers_on[port];
    }
  }
  std::set<uint16_t> out;
  for (const auto& [port, n] : workers_on) {
    if (n == impl_->workers.size()) out.insert(port);
  }
  return out;
}

bool ProxyServer::accepting_any() const {
  for (const auto& w : impl_->workers) {
    std::lock_guard lock(w->listening_mu);
    if (w->mesh_listening || !w->gateway_listening.empty()) return true;
  }
  return false;
}

void ProxyServer::begin_drain(std::chrono::milliseconds accept_grace) {
  if (impl_->draining.exchange(true)) return;
  for (auto& w : impl_->workers) {
    Worker* raw = w.get();
    asio::co_spawn(raw->ioc, drain_worker(*raw, accept_grace), asio::detached);
  }
}

std::map<uint16_t, std::vector<int>> ProxyServer::listener_fds() const {
  std::map<uint16_t, std::vector<int>> out;
  for (const auto& w : impl_->workers) {
    Worker* raw = w.get();
    // Gateway acceptors change on their worker's thread: read them there.
    auto promise = std::make_shared<std::promise<std::map<uint16_t, std::vector<int>>>>();
    auto future = promise->get_future();
    asio::post(raw->ioc, [raw, promise] {
      std::map<uint16_t, std::vector<int>> mine;
      if (raw->acceptor.is_open()) mine[raw->acceptor.local_endpoint().port()].push_back(raw->acceptor.native_handle());
      for (auto& [port, acc] : raw->gateway_acceptors) {
        if (acc->is_open()) mine[port].push_back(acc->native_handle());
      }
      promise->set_value(std::move(mine));
    });
    if (future.wait_for(kListenerQuery) != std::future_status::ready) continue;  // a stopped worker
    for (auto& [port, fds] : future.get()) out[port].insert(out[port].end(), fds.begin(), fds.end());
  }
  return out;
}

std::size_t ProxyServer::open_connections() const {
  std::size_t n = 0;
  for (const auto& w : impl_->workers) n += w->connections.load(std::memory_order_relaxed);
  return n;
}

void ProxyServer::stop() {
  if (impl_->stopped.exchange(true)) return;
  for (auto& w : impl_->workers) w->ioc.stop();
  for (auto& w : impl_->workers) {
    if (w->thread.joinable()) w->thread.join();
  }
}

}  // namespace sluice::proxy
