// Istio connectionPool limits: each limit enforced and counted, guards give
// resources back, Istio's unlimited default never overflows, and concurrent
// workers never get past a limit. The last test walks through Istio's
// circuit-breaking task in the order the proxy takes the guards.
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <thread>
#include <vector>

#include "circuit_breaker.h"

using namespace sluice;
using namespace sluice::proxy;
using Guard = CircuitBreaker::Guard;

namespace {

config::ConnectionPoolPolicy limits(uint32_t connections, uint32_t pending, uint32_t requests, uint32_t retries) {
  config::ConnectionPoolPolicy p;
  p.max_connections = connections;
  p.http1_max_pending_requests = pending;
  p.http2_max_requests = requests;
  p.max_retries = retries;
  return p;
}

}  // namespace

TEST(CircuitBreaker, EachLimitIsEnforcedAndCounted) {
  CircuitBreaker cb(limits(2, 1, 3, 1));
  auto c1 = cb.try_connection(), c2 = cb.try_connection();
  ASSERT_TRUE(c1 && c2);
  EXPECT_FALSE(cb.try_connection());
  auto p1 = cb.try_pending_request();
  ASSERT_TRUE(p1);
  EXPECT_FALSE(cb.try_pending_request());
  std::vector<Guard> requests;
  while (auto g = cb.try_request()) requests.push_back(std::move(*g));
  EXPECT_EQ(requests.size(), 3u);
  auto r1 = cb.try_retry();
  ASSERT_TRUE(r1);
  EXPECT_FALSE(cb.try_retry());
  EXPECT_FALSE(cb.try_retry());

  const auto s = cb.snapshot();
  EXPECT_EQ(s.connections, (CircuitBreaker::Counter{2, 2, 1}));
  EXPECT_EQ(s.pending_requests, (CircuitBreaker::Counter{1, 1, 1}));
  EXPECT_EQ(s.requests, (CircuitBreaker::Counter{3, 3, 1}));
  EXPECT_EQ(s.retries, (CircuitBreaker::Counter{1, 1, 2}));
}

TEST(CircuitBreaker, GuardsGiveResourcesBack) {
  CircuitBreaker cb(limits(1, 1, 1, 1));
  {
    auto g = cb.try_connection();
    ASSERT_TRUE(g);
    EXPECT_FALSE(cb.try_connection());
  }
  auto g = cb.try_connection();
  ASSERT_TRUE(g);
  g->release();
  EXPECT_FALSE(g->held());
  g->release();  // twice is harmless
  EXPECT_EQ(cb.snapshot().connections.active, 0u);

  auto a = cb.try_request();
  ASSERT_TRUE(a);
  Guard moved = std::move(*a);  // the moved-from guard gives nothing back
  a.reset();
  EXPECT_EQ(cb.snapshot().requests.active, 1u);
  auto b = cb.try_request();
  EXPECT_FALSE(b);
  moved = std::move(*cb.try_pending_request());  // assigning releases the old resource
  EXPECT_EQ(cb.snapshot().requests.active, 0u);
  EXPECT_EQ(cb.snapshot().pending_requests.active, 1u);
}

TEST(CircuitBreaker, IstioDefaultIsUnlimited) {
  CircuitBreaker cb(config::ConnectionPoolPolicy{});
  std::vector<Guard> held;
  for (int i = 0; i < 100000; ++i) {
    auto g = cb.try_request();
    ASSERT_TRUE(g);
    held.push_back(std::move(*g));
  }
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(cb.try_connection());
    ASSERT_TRUE(cb.try_pending_request());
    ASSERT_TRUE(cb.try_retry());
  }
  const auto s = cb.snapshot();
  EXPECT_EQ(s.requests, (CircuitBreaker::Counter{100000, config::kUnlimited, 0}));
  EXPECT_EQ(s.connections.overflows + s.pending_requests.overflows + s.retries.overflows, 0u);
  EXPECT_EQ(s.max_requests_per_connection, 0u);
}

TEST(CircuitBreaker, UpdateKeepsHeldResources) {
  CircuitBreaker cb(limits(3, 1, 1, 1));
  auto a = cb.try_connection(), b = cb.try_connection();
  auto p = limits(1, 1, 1, 1);
  p.max_requests_per_connection = 1;
  cb.update(p);
  EXPECT_EQ(cb.max_requests_per_connection(), 1u);
  EXPECT_FALSE(cb.try_connection());  // 2 held, limit 1
  a.reset();
  EXPECT_FALSE(cb.try_connection());
  b.reset();
  EXPECT_TRUE(cb.try_connection());
}

TEST(CircuitBreaker, ForcedConnectionCountsAnOverflow) {
  CircuitBreaker cb(limits(1, 1, 1, 1));
  Guard first = cb.force_connection();  // under the limit: no overflow
  Guard second = cb.force_connection();
  EXPECT_EQ(cb.snapshot().connections, (CircuitBreaker::Counter{2, 1, 1}));
  EXPECT_FALSE(cb.try_connection());
}

TEST(CircuitBreaker, ConcurrentWorkersNeverExceedTheLimit) {
  constexpr uint32_t kLimit = 3;
  constexpr int kThreads = 4, kTries = 20000;
  CircuitBreaker cb(limits(kLimit, kLimit, kLimit, kLimit));
  std::atomic<int> inside{0}, most{0}, granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kTries; ++i) {
        auto g = cb.try_request();
        if (!g) continue;
        ++granted;
        const int now = ++inside;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        --inside;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(most.load(), static_cast<int>(kLimit));
  const auto s = cb.snapshot();
  EXPECT_EQ(s.requests.active, 0u);
  EXPECT_EQ(s.requests.overflows + static_cast<uint64_t>(granted.load()), uint64_t{kThreads} * kTries);
}

// Istio's circuit-breaking task (maxConnections: 1, http1MaxPendingRequests: 1)
// with 5 clients, each sending again as soon as its last request ends (fortio
// -c 5). Each round every idle client sends, then the connection finishes one
// request and takes the next pending one. One request is on the connection,
// one waits pending, the others get 503 UO.
TEST(CircuitBreaker, IstioCircuitBreakingTaskGivesSome503) {
  CircuitBreaker cb(limits(1, 1, config::kUnlimited, config::kUnlimited));
  std::optional<Guard> connection;
  bool established = false;
  std::optional<Guard> active;   // the request on the connection
  std::deque<Guard> pending;     // requests waiting for the connection
  int idle_clients = 5, ok = 0, overflow = 0;

  for (int round = 0; round < 20; ++round) {
    for (int sending = idle_clients; sending > 0; --sending) {
      --idle_clients;
      if (established && !active) {  // an idle connection: send at once
        active = cb.try_request();
        continue;
      }
      auto p = cb.try_pending_request();
      if (!p) {
        ++overflow;  // 503 UO; the client is idle again
        ++idle_clients;
        continue;
      }
      if (!connection) connection = cb.try_connection();  // stays pending while connecting
      pending.push_back(std::move(*p));
    }
    if (active) {  // the response is complete
      ++ok;
      ++idle_clients;
      active.reset();
    }
    established = connection.has_value();  // a connect completes within a round
    if (!pending.empty()) {  // the connection takes the next pending request
      pending.pop_front();
      active = cb.try_request();
    }
  }
  EXPECT_EQ(ok, 19);
  EXPECT_GT(overflow, 2 * ok);
  const auto s = cb.snapshot();
  EXPECT_EQ(s.connections, (CircuitBreaker::Counter{1, 1, 0}));
  EXPECT_EQ(s.pending_requests.overflows, static_cast<uint64_t>(overflow));
  EXPECT_EQ(s.requests.overflows, 0u);
}
