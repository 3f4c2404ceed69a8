// The connection-pool limits of one cluster (service port and subset), with
// Istio's connectionPool semantics as Envoy enforces them: shared by every
// worker thread, each limit a counter of resources in use. A failed try is an
// overflow, answered with 503 and the flag UO (see below for retries).
//
// How the proxy uses it for an HTTP/1.1 upstream request, in the order of
// Envoy's connection pool (ConnPoolImplBase::newStreamImpl and
// attachStreamToClient), so that Istio's circuit-breaking task behaves the
// same (maxConnections: 1, http1MaxPendingRequests: 1, a few concurrent
// clients: some 200s, some 503 UO):
//   1. An idle pooled connection exists: take try_request() (overflow: 503 UO)
//      and send on it. The request guard lives until the response completes.
//   2. Otherwise the request waits "pending": take try_pending_request()
//      (overflow: 503 UO), then try_connection() to open a new connection. If
//      that fails, the request waits for a busy connection to come free. The
//      pending guard is dropped when the request is handed a connection (then
//      step 1's try_request() applies) or gives up. A request waiting for a
//      connection that is still being established is pending too.
//   3. The connection guard lives as long as the upstream connection.
// Envoy also opens one connection for a pool that has none even when the
// limit is reached (counting an overflow), so a pending request is never
// stranded; force_connection() is that path. With http1MaxPendingRequests at
// its Istio default (unlimited), maxConnections alone never answers 503: the
// requests queue instead.
//
// http2MaxRequests is Envoy's max_requests: since Envoy 1.14 it bounds the
// active requests of HTTP/1.1 clusters too, not only HTTP/2.
//
// maxRetries bounds concurrent retries. Take try_retry() when a retry is
// decided, before the back-off, and hold it until that retry attempt ends. On
// overflow the retry is not made: the proxy returns the attempt's own
// response (or failure), with the flag UO (Envoy's RetryStatus::NoOverflow).
//
// An overflow is local: never report it to the outlier detector.
//
// Limits use compare-and-swap, so unlike Envoy's check-then-increment the
// counts never exceed a limit (force_connection() aside).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include "traffic_policy.h"

namespace sluice::proxy {

class CircuitBreaker {
  // One limited resource, on its own cache line: workers hit different limits
  // at the same time.
  struct alignas(64) Slot {
    std::atomic<uint64_t> active{0};
    std::atomic<uint32_t> limit{config::kUnlimited};
    std::atomic<uint64_t> overflows{0};

    bool try_acquire() noexcept;
    void release() noexcept { active.fetch_sub(1, std::memory_order_relaxed); }
  };

 public:
  // Holds one unit of a resource and gives it back when destroyed or
  // released. The CircuitBreaker must outlive its guards: keep one per cluster
  // and update() it on config changes rather than replacing it.
  class Guard {
   public:
    Guard(Guard&& other) noexcept : slot_(other.slot_) { other.slot_ = nullptr; }
    Guard& operator=(Guard&& other) noexcept {
      if (this != &other) {
        release();
        slot_ = other.slot_;
        other.slot_ = nullptr;
      }
      return *this;
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard() { release(); }

    void release() noexcept {
      if (slot_ != nullptr) slot_->release();
      slot_ = nullptr;
    }
    bool held() const { return slot_ != nullptr; }

   private:
    friend class CircuitBreaker;
    explicit Guard(Slot* slot) : slot_(slot) {}
    Slot* slot_;
  };

  // One counter, as the admin API shows it (Envoy's remaining_* gauges and
  // *_overflow counters).
  struct Counter {
    uint64_t active = 0;     // resources held now
    uint32_t limit = 0;      // config::kUnlimited: no limit
    uint64_t overflows = 0;  // failed tries since start
    bool operator==(const Counter&) const = default;
  };
  struct Snapshot {
    Counter connections;       // Envoy: upstream_cx_overflow
    Counter pending_requests;  // Envoy: upstream_rq_pending_overflow
    Counter requests;          // Envoy counts these in upstream_rq_pending_overflow too
    Counter retries;           // Envoy: upstream_rq_retry_overflow
    uint32_t max_requests_per_connection = 0;  // 0: unlimited
  };

  explicit CircuitBreaker(const config::ConnectionPoolPolicy& policy) { update(policy); }
  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;

  // New limits for new tries. Resources already held stay held, even above a
  // lowered limit; they drain as they are released.
  void update(const config::ConnectionPoolPolicy& policy);

  std::optional<Guard> try_connection() { return try_take(connections_); }        // tcp.maxConnections
  std::optional<Guard> try_pending_request() { return try_take(pending_requests_); }  // http.http1MaxPendingRequests
  std::optional<Guard> try_request() { return try_take(requests_); }              // http.http2MaxRequests
  std::optional<Guard> try_retry() { return try_take(retries_); }                 // http.maxRetries
  // A connection for a pool that has none: always granted, counted against
  // maxConnections, and counted as an overflow when above the limit.
  Guard force_connection();

  // http.maxRequestsPerConnection: a connection that has carried this many
  // requests is closed after the last one (0: no limit). The pool enforces it.
  uint32_t max_requests_per_connection() const {
    return max_requests_per_connection_.load(std::memory_order_relaxed);
  }

  Snapshot snapshot() const;

 private:
  static std::optional<Guard> try_take(Slot& slot) {
    if (!slot.try_acquire()) return std::nullopt;
    return Guard(&slot);
  }

  Slot connections_;
  Slot pending_requests_;
  Slot requests_;
  Slot retries_;
  std::atomic<uint32_t> max_requests_per_connection_{0};
};

}  // namespace sluice::proxy
