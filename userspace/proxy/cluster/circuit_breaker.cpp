#include "circuit_breaker.h"

namespace sluice::proxy {

namespace {

CircuitBreaker::Counter read(const std::atomic<uint64_t>& active, const std::atomic<uint32_t>& limit,
                             const std::atomic<uint64_t>& overflows) {
  return {active.load(std::memory_order_relaxed), limit.load(std::memory_order_relaxed),
          overflows.load(std::memory_order_relaxed)};
}

}  // namespace

// Relaxed ordering is enough: the counters publish no other data, and the
// compare-and-swap alone keeps `active` at or below the limit.
bool CircuitBreaker::Slot::try_acquire() noexcept {
  const uint32_t max = limit.load(std::memory_order_relaxed);
  if (max == config::kUnlimited) {
    // Istio's default: a count for the admin API, never an overflow (2^64
    // concurrent resources cannot happen).
    active.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  uint64_t cur = active.load(std::memory_order_relaxed);
  do {
    if (cur >= max) {
      overflows.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  } while (!active.compare_exchange_weak(cur, cur + 1, std::memory_order_relaxed));
  return true;
}

void CircuitBreaker::update(const config::ConnectionPoolPolicy& policy) {
  connections_.limit.store(policy.max_connections, std::memory_order_relaxed);
  pending_requests_.limit.store(policy.http1_max_pending_requests, std::memory_order_relaxed);
  requests_.limit.store(policy.http2_max_requests, std::memory_order_relaxed);
  retries_.limit.store(policy.max_retries, std::memory_order_relaxed);
  max_requests_per_connection_.store(policy.max_requests_per_connection, std::memory_order_relaxed);
}

CircuitBreaker::Guard CircuitBreaker::force_connection() {
  const uint64_t before = connections_.active.fetch_add(1, std::memory_order_relaxed);
  const uint32_t max = connections_.limit.load(std::memory_order_relaxed);
  if (max != config::kUnlimited && before >= max) connections_.overflows.fetch_add(1, std::memory_order_relaxed);
  return Guard(&connections_);
}

CircuitBreaker::Snapshot CircuitBreaker::snapshot() const {
  Snapshot s;
  s.connections = read(connections_.active, connections_.limit, connections_.overflows);
  s.pending_requests = read(pending_requests_.active, pending_requests_.limit, pending_requests_.overflows);
  s.requests = read(requests_.active, requests_.limit, requests_.overflows);
  s.retries = read(retries_.active, retries_.limit, retries_.overflows);
  s.max_requests_per_connection = max_requests_per_connection();
  return s;
}

}  // namespace sluice::proxy
