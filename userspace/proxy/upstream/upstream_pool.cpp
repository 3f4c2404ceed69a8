#include "upstream_pool.h"

#include <algorithm>

#include "proxy_limits.h"

namespace sluice::proxy {

std::unique_ptr<UpstreamConn> UpstreamPool::take(uint64_t endpoint_id, uint64_t tls_id) {
  auto it = idle_.find({endpoint_id, tls_id});
  if (it == idle_.end() || it->second.empty()) return nullptr;
  std::unique_ptr<UpstreamConn> conn = std::move(it->second.back());
  it->second.pop_back();
  return conn;
}

bool UpstreamPool::has_idle(uint64_t endpoint_id, uint64_t tls_id) const {
  auto it = idle_.find({endpoint_id, tls_id});
  return it != idle_.end() && !it->second.empty();
}

void UpstreamPool::give_back(UpstreamReply& reply, bool body_complete) {
  if (!reply.conn || !body_complete || !reply.parser->keep_alive() || reply.conn->buffer.size() != 0) return;
  UpstreamConn& conn = *reply.conn;
  const uint32_t limit = reply.max_requests;
  auto& pool = idle_[{reply.endpoint_id, reply.tls_id}];
  if ((limit != 0 && ++conn.requests >= limit) || pool.size() >= kMaxIdleUpstreamPerEndpoint) return;
  conn.stream.expires_never();
  conn.idle_since = std::chrono::steady_clock::now();
  pool.push_back(std::move(reply.conn));
}

void UpstreamPool::sweep(std::chrono::steady_clock::time_point now) {
  for (auto& [id, pool] : idle_) {
    std::erase_if(pool, [&](const auto& c) { return now - c->idle_since >= c->idle_timeout; });
  }
}

}  // namespace sluice::proxy
