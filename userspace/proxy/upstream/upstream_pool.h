// One worker's idle upstream connections, per endpoint: HTTP/1 keep-alive
// reuse under each cluster's idleTimeout and maxRequestsPerConnection.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "upstream_conn.h"

namespace sluice::proxy {

class UpstreamPool {
 public:
  // An idle connection to the endpoint with these TLS settings
  // (OriginationContext::id, 0 for plain), or null.
  std::unique_ptr<UpstreamConn> take(uint64_t endpoint_id, uint64_t tls_id);
  bool has_idle(uint64_t endpoint_id, uint64_t tls_id) const;
  // After a response body was relayed whole, its connection goes back to the
  // pool if both sides keep it alive and it has requests left.
  void give_back(UpstreamReply& reply, bool body_complete);
  // Closes connections idle past their cluster's idleTimeout (Istio's
  // default is 1 h), releasing their connection slots.
  void sweep(std::chrono::steady_clock::time_point now);

 private:
  std::unordered_map<PoolKey, std::vector<std::unique_ptr<UpstreamConn>>, PoolKeyHash> idle_;
};

}  // namespace sluice::proxy
