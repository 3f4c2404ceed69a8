// One worker thread of the proxy: its io_context, listener, router, upstream
// pool and filters. Nothing here is shared with other workers, so nothing
// on the request path takes a lock.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "downstream.h"
#include "filter_chain.h"
#include "h2_upstream_pool.h"
#include "header_waits.h"
#include "proxy_asio.h"
#include "proxy_options.h"
#include "request_router.h"
#include "tls_contexts.h"
#include "upstream_pool.h"

namespace sluice::proxy {

struct Worker {
  Worker(const ProxyOptions& opts, const std::atomic<bool>& stop_flag, const std::atomic<bool>& drain_flag)
      : options(opts),
        stopped(stop_flag),
        draining(drain_flag),
        router(opts.clusters),
        filters(FilterChain::standard(opts)),
        tls_hello(make_hello_context(tls)) {}

  const ProxyOptions& options;     // the server's, read-only once started
  const std::atomic<bool>& stopped;
  // Set once by ProxyServer::begin_drain: every response closes its
  // connection, idle connections close soon.
  const std::atomic<bool>& draining;
  // Open downstream connections (mesh and gateway), which a drain waits for.
  std::atomic<std::size_t> connections{0};
  // Only this worker's thread starts I/O on its sockets, so the reactor's
  // per-descriptor locks are switched off; the scheduler keeps its lock,
  // since other threads post to it (set_gateway_ports, stop).
  boost::asio::io_context ioc{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  Acceptor acceptor{ioc};
  RequestRouter router;
  UpstreamPool pool;
  H2UpstreamPool h2_pool;
  FilterChain filters;
  std::minstd_rand rng{std::random_device{}()};
  std::thread thread;
  HeaderWaits header_waits;

  // Gateway listeners by port, the TLS contexts of their servers, and the
  // servers of the snapshot last seen.
  std::map<uint16_t, std::shared_ptr<Acceptor>> gateway_acceptors;
  TlsContexts tls;
  boost::asio::ssl::context tls_hello;  // wraps tls.hello_context()
  uint64_t gateway_version = ~0ULL;
  std::shared_ptr<const GatewayServerMap> gateway_servers = std::make_shared<GatewayServerMap>();

  // The listeners this worker accepts on, for readiness (the admin thread
  // reads them); written when an accept loop starts or ends, never per request.
  mutable std::mutex listening_mu;
  bool mesh_listening = false;
  std::map<uint16_t, int> gateway_listening;  // port -> accept loops running on it

  // When the headers of the next request must have arrived.
  std::chrono::steady_clock::time_point header_deadline(std::chrono::steady_clock::time_point now) const {
    const auto deadline = now + options.header_timeout;
    return draining.load(std::memory_order_relaxed) ? std::min(deadline, now + kDrainIdleClose) : deadline;
  }

  config::SnapshotPtr snapshot() const { return options.snapshot ? options.snapshot() : nullptr; }
  bool logging() const { return static_cast<bool>(options.access_log); }

  const std::shared_ptr<const GatewayServerMap>& servers_for(const config::SnapshotPtr& snap) {
    if (snap && snap->version != gateway_version) {
      gateway_servers = std::make_shared<GatewayServerMap>(config::select_gateway_servers(*snap, options.gateway_labels));
      gateway_version = snap->version;
    }
    return gateway_servers;
  }

 private:
  static boost::asio::ssl::context make_hello_context(TlsContexts& tls) {
    SSL_CTX_up_ref(tls.hello_context());  // asio's context takes a reference of its own
    return boost::asio::ssl::context(tls.hello_context());
  }
};

// Counts one downstream connection for the life of its session.
class CountedConnection {
 public:
  explicit CountedConnection(Worker& w) : w_(w) { w_.connections.fetch_add(1, std::memory_order_relaxed); }
  ~CountedConnection() { w_.connections.fetch_sub(1, std::memory_order_relaxed); }
  CountedConnection(const CountedConnection&) = delete;
  CountedConnection& operator=(const CountedConnection&) = delete;

 private:
  Worker& w_;
};

}  // namespace sluice::proxy
