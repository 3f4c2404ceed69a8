// One worker thread of the proxy: its io_context, listener, router, upstream
// pool and filters. Nothing here is shared with other workers, so nothing
// on the request path takes a lock.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <thread>

#include "downstream.h"
#include "filter_chain.h"
#include "header_waits.h"
#include "proxy_asio.h"
#include "proxy_options.h"
#include "request_router.h"
#include "tls_contexts.h"
#include "upstream_pool.h"

namespace sluice::proxy {

struct Worker {
  Worker(const ProxyOptions& opts, const std::atomic<bool>& stop_flag)
      : options(opts),
        stopped(stop_flag),
        router(opts.clusters),
        filters(FilterChain::standard(opts)),
        tls_hello(make_hello_context(tls)) {}

  const ProxyOptions& options;     // the server's, read-only once started
  const std::atomic<bool>& stopped;
  // Only this worker's thread starts I/O on its sockets, so the reactor's
  // per-descriptor locks are switched off; the scheduler keeps its lock,
  // since other threads post to it (set_gateway_ports, stop).
  boost::asio::io_context ioc{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  Acceptor acceptor{ioc};
  RequestRouter router;
  UpstreamPool pool;
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

}  // namespace sluice::proxy
