// One worker's HTTP/2 upstream connections, per endpoint and TLS setting
// (PoolKey: plain h2c and h2 over TLS never share a connection): at most
// kMaxH2ConnectionsPerEndpoint, each carrying as many streams as its server
// allows (h2_upstream_conn.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "h2_upstream_conn.h"
#include "upstream_conn.h"

namespace sluice::proxy {

class H2UpstreamPool {
 public:
  H2UpstreamPool() = default;
  // The worker is going: its connections close (their coroutines end with
  // the io_context).
  ~H2UpstreamPool();
  H2UpstreamPool(const H2UpstreamPool&) = delete;
  H2UpstreamPool& operator=(const H2UpstreamPool&) = delete;
  // A connection to the endpoint, with these TLS settings, with a stream
  // free, or null.
  std::shared_ptr<H2UpstreamConn> pick(PoolKey key);
  // The endpoint has room for another connection with these settings.
  bool can_open(PoolKey key);
  void add(PoolKey key, std::shared_ptr<H2UpstreamConn> conn);
  // Closes connections without streams idle past their cluster's idleTimeout.
  void sweep(std::chrono::steady_clock::time_point now);

 private:
  std::vector<std::shared_ptr<H2UpstreamConn>>& live(PoolKey key);
  std::unordered_map<PoolKey, std::vector<std::shared_ptr<H2UpstreamConn>>, PoolKeyHash> conns_;
};

}  // namespace sluice::proxy
