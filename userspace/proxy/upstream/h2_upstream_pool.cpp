#include "h2_upstream_pool.h"

#include <algorithm>

#include "h2_upstream_limits.h"

namespace sluice::proxy {

H2UpstreamPool::~H2UpstreamPool() {
  for (auto& [id, conns] : conns_) {
    for (auto& c : conns) c->close();
  }
}

std::vector<std::shared_ptr<H2UpstreamConn>>& H2UpstreamPool::live(PoolKey key) {
  auto& conns = conns_[key];
  std::erase_if(conns, [](const auto& c) {
    if (!c->spent()) return false;
    c->close();
    return true;
  });
  return conns;
}

std::shared_ptr<H2UpstreamConn> H2UpstreamPool::pick(PoolKey key) {
  // The first with room: streams gather on few connections, and the others
  // go idle and are swept.
  for (const auto& c : live(key)) {
    if (c->usable()) return c;
  }
  return nullptr;
}

bool H2UpstreamPool::can_open(PoolKey key) { return live(key).size() < kMaxH2ConnectionsPerEndpoint; }

void H2UpstreamPool::add(PoolKey key, std::shared_ptr<H2UpstreamConn> conn) {
  conns_[key].push_back(std::move(conn));
}

void H2UpstreamPool::sweep(std::chrono::steady_clock::time_point now) {
  for (auto it = conns_.begin(); it != conns_.end();) {
    std::erase_if(it->second, [now](const auto& c) {
      if (!c->spent() && !c->idle_for(now)) return false;
      c->close();
      return true;
    });
    it = it->second.empty() ? conns_.erase(it) : std::next(it);
  }
}

}  // namespace sluice::proxy
