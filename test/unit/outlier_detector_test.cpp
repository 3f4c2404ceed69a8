// Outlier detection as Istio configures Envoy: consecutive 5xx and gateway
// errors, immediate ejection, maxEjectionPercent, minHealthPercent (panic),
// ejection time growing with the multiplier and decaying, return on tick,
// events for the kernel mirror, and concurrent reporters. Time is passed in,
// so nothing sleeps.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "outlier_detector.h"

using namespace sluice;
using namespace sluice::proxy;
using namespace std::chrono_literals;
using Reason = OutlierDetector::Reason;
using Event = OutlierDetector::Event;

namespace {

const OutlierDetector::Clock::time_point T0{1000s};

config::OutlierPolicy policy(uint32_t c5xx = 5, uint32_t gateway = 0, uint32_t max_percent = 100) {
  config::OutlierPolicy p;
  p.enabled = true;
  p.consecutive_5xx_errors = c5xx;
  p.consecutive_gateway_errors = gateway;
  p.max_ejection_percent = max_percent;
  return p;
}

std::vector<uint64_t> ids(uint64_t n) {
  std::vector<uint64_t> v;
  for (uint64_t i = 1; i <= n; ++i) v.push_back(i);
  return v;
}

void report_n(OutlierDetector& od, uint64_t id, unsigned status, int n, OutlierDetector::Clock::time_point now = T0) {
  for (int i = 0; i < n; ++i) od.report(id, status, now);
}

Event ejection(uint64_t id, Reason reason, uint32_t count, std::chrono::milliseconds d) {
  return {id, true, reason, count, d};
}

Event returned(uint64_t id, Reason reason, uint32_t count) { return {id, false, reason, count, 0ms}; }

// Events of one sweep over the endpoints come in no particular order.
std::vector<Event> by_id(std::vector<Event> events) {
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.endpoint_id < b.endpoint_id; });
  return events;
}

}  // namespace

// --- triggers -------------------------------------------------------------------

TEST(OutlierDetector, EjectsImmediatelyAfterConsecutive5xx) {
  OutlierDetector od(policy());
  od.set_endpoints(ids(3));
  report_n(od, 1, 500, 4);
  EXPECT_FALSE(od.ejected(1));
  od.report(1, 503, T0);
  EXPECT_TRUE(od.ejected(1));
  EXPECT_FALSE(od.ejected(2));
  EXPECT_EQ(od.drain_events(), std::vector<Event>{ejection(1, Reason::kConsecutive5xx, 1, 30s)});
  EXPECT_TRUE(od.drain_events().empty());
}

TEST(OutlierDetector, AnyNon5xxResetsTheCount) {
  OutlierDetector od(policy());
  od.set_endpoints(ids(3));
  for (unsigned ok : {200u, 404u, 302u, 429u}) {
    report_n(od, 1, 500, 4);
    od.report(1, ok, T0);
  }
  EXPECT_FALSE(od.ejected(1));
  report_n(od, 1, 599, 5);
  EXPECT_TRUE(od.ejected(1));
}

TEST(OutlierDetector, LocalOriginFailuresCountAs5xx) {
  OutlierDetector od(policy());
  od.set_endpoints(ids(3));
  report_n(od, 2, OutlierDetector::kLocalOriginFailure, 3);
  report_n(od, 2, 501, 2);
  EXPECT_TRUE(od.ejected(2));
}

TEST(OutlierDetector, GatewayTriggerCountsOnly502To504AndLocalFailures) {
  OutlierDetector od(policy(/*c5xx=*/0, /*gateway=*/3));
  od.set_endpoints(ids(3));
  report_n(od, 1, 500, 10);  // a 5xx, but not a gateway error
  EXPECT_FALSE(od.ejected(1));
  od.report(1, 502, T0);
  od.report(1, 504, T0);
  od.report(1, 500, T0);  // a non-gateway 5xx clears the gateway count
  od.report(1, 503, T0);
  od.report(1, OutlierDetector::kLocalOriginFailure, T0);
  EXPECT_FALSE(od.ejected(1));
  od.report(1, 502, T0);
  EXPECT_TRUE(od.ejected(1));
  EXPECT_EQ(od.drain_events(), std::vector<Event>{ejection(1, Reason::kConsecutiveGatewayErrors, 1, 30s)});
}

TEST(OutlierDetector, ZeroThresholdsNeverEject) {
  OutlierDetector od(policy(0, 0));
  od.set_endpoints(ids(2));
  report_n(od, 1, 503, 100);
  EXPECT_FALSE(od.ejected(1));
  EXPECT_EQ(od.stats().ejections_enforced_total, 0u);
}

TEST(OutlierDetector, GatewayTriggerWinsWhenBothReachTogether) {
  OutlierDetector od(policy(3, 3));
  od.set_endpoints(ids(2));
  report_n(od, 1, 503, 3);
  const auto events = od.drain_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].reason, Reason::kConsecutiveGatewayErrors);
  EXPECT_EQ(to_string(events[0].reason), "consecutive_gateway_errors");
  const auto s = od.stats();
  EXPECT_EQ(s.ejections_enforced_consecutive_gateway_failure, 1u);
  EXPECT_EQ(s.ejections_enforced_consecutive_5xx, 0u);
}

TEST(OutlierDetector, DisabledPolicyDoesNothing) {
  config::OutlierPolicy p = policy();
  p.enabled = false;
  OutlierDetector od(p);
  od.set_endpoints(ids(2));
  report_n(od, 1, 500, 50);
  od.tick(T0 + 1h);
  EXPECT_FALSE(od.ejected(1));
  EXPECT_TRUE(od.drain_events().empty());
}

// --- maxEjectionPercent and minHealthPercent -----------------------------------

TEST(OutlierDetector, MaxEjectionPercentStillAllowsOneHost) {
  OutlierDetector od(policy(5, 0, /*max_percent=*/10));  // 10% of 5 hosts is 0.5
  od.set_endpoints(ids(5));
  report_n(od, 1, 500, 5);
  EXPECT_TRUE(od.ejected(1));
  report_n(od, 2, 500, 5);
  EXPECT_FALSE(od.ejected(2));
  EXPECT_EQ(od.stats().ejections_overflow, 1u);
  EXPECT_EQ(od.stats().ejections_active, 1u);
}

TEST(OutlierDetector, MaxEjectionPercentCountsTheNewEjection) {
  OutlierDetector od(policy(5, 0, /*max_percent=*/40));
  od.set_endpoints(ids(5));
  for (uint64_t id = 1; id <= 3; ++id) report_n(od, id, 500, 5);
  EXPECT_TRUE(od.ejected(1));
  EXPECT_TRUE(od.ejected(2));   // 2 of 5 = 40%
  EXPECT_FALSE(od.ejected(3));  // 3 of 5 = 60%
}

TEST(OutlierDetector, WithoutAlwaysEjectOneHostSmallPoolsEjectNothing) {
  OutlierDetector od(policy(5, 0, 10), OutlierDetector::Options{.always_eject_one_host = false});
  od.set_endpoints(ids(5));
  report_n(od, 1, 500, 5);
  EXPECT_FALSE(od.ejected(1));
  EXPECT_EQ(od.stats().ejections_overflow, 1u);
}

TEST(OutlierDetector, MinHealthPercentPanicsAndBalancesAcrossAll) {
  config::OutlierPolicy p = policy();
  p.min_health_percent = 50;
  OutlierDetector od(p);
  od.set_endpoints(ids(4));
  report_n(od, 1, 500, 5, T0);
  report_n(od, 2, 500, 5, T0);  // 2 of 4 healthy: 50% is not below 50%
  EXPECT_TRUE(od.ejected(1));
  EXPECT_TRUE(od.ejected(2));
  EXPECT_FALSE(od.stats().panic);
  od.drain_events();

  report_n(od, 3, 500, 5, T0 + 10s);  // 25% healthy: panic, nothing is ejected for the LB
  for (uint64_t id = 1; id <= 4; ++id) EXPECT_FALSE(od.ejected(id)) << id;
  EXPECT_TRUE(od.stats().panic);
  EXPECT_EQ(od.stats().ejections_active, 3u);  // the detector's own state is kept
  EXPECT_EQ(by_id(od.drain_events()),
            (std::vector<Event>{returned(1, Reason::kPanic, 1), returned(2, Reason::kPanic, 1)}));

  od.tick(T0 + 30s);  // 1 and 2 return; 3 of 4 healthy ends the panic and 3 is ejected again
  EXPECT_FALSE(od.stats().panic);
  EXPECT_FALSE(od.ejected(1));
  EXPECT_TRUE(od.ejected(3));
  EXPECT_EQ(od.drain_events(), std::vector<Event>{ejection(3, Reason::kPanicOver, 1, 30s)});
}

// --- ejection time ---------------------------------------------------------------

TEST(OutlierDetector, EjectionTimeGrowsWithEjectionsUpTo300s) {
  OutlierDetector od(policy());
  od.set_endpoints(ids(2));
  auto now = T0;
  for (uint32_t n = 1; n <= 13; ++n) {
    report_n(od, 1, 500, 5, now);
    const auto events = od.drain_events();
    ASSERT_EQ(events.size(), 1u);
    const std::chrono::milliseconds want = std::min<std::chrono::milliseconds>(30s * n, 300s);
    EXPECT_EQ(events[0], ejection(1, Reason::kConsecutive5xx, n, want)) << n;
    od.tick(now + want - 1ms);
    EXPECT_TRUE(od.ejected(1)) << n;
    now += want;
    od.tick(now);  // returned, and failing again at once: no interval to decay in
    EXPECT_FALSE(od.ejected(1)) << n;
    EXPECT_EQ(od.drain_events(), std::vector<Event>{returned(1, Reason::kExpired, n)});
  }
}

TEST(OutlierDetector, MultiplierDecaysEachIntervalSpentHealthy) {
  OutlierDetector od(policy());
  od.set_endpoints(ids(2));
  auto now = T0;
  for (int n = 1; n <= 3; ++n) {  // multiplier 3
    report_n(od, 1, 500, 5, now);
    now += 30s * n;
    od.tick(now);
  }
  od.tick(now + 5s);   // back for less than an interval: no decay
  od.tick(now + 10s);  // 3 -> 2
  od.tick(now + 20s);  // 2 -> 1
  od.drain_events();
  report_n(od, 1, 500, 5, now + 20s);  // 1 -> 2
  EXPECT_EQ(od.drain_events(), std::vector<Event>{ejection(1, Reason::kConsecutive5xx, 4, 60s)});
}

TEST(OutlierDetector, ReturnsOnlyOnTickAndWithCountsCleared) {
  OutlierDetector od(policy());
  od.set_endpoints(ids(2));
  report_n(od, 1, 500, 5, T0);
  report_n(od, 1, 500, 3, T0 + 1s);  // in-flight failures while ejected
  EXPECT_TRUE(od.ejected(1));        // expired at T0 + 30s, but no tick yet
  od.tick(T0 + 35s);
  EXPECT_FALSE(od.ejected(1));
  report_n(od, 1, 500, 4, T0 + 36s);
  EXPECT_FALSE(od.ejected(1));
  od.report(1, 500, T0 + 36s);
  EXPECT_TRUE(od.ejected(1));
  EXPECT_EQ(od.drain_events(), (std::vector<Event>{ejection(1, Reason::kConsecutive5xx, 1, 30s),
                                                   returned(1, Reason::kExpired, 1),
                                                   ejection(1, Reason::kConsecutive5xx, 2, 60s)}));
}

// --- endpoint set ----------------------------------------------------------------

TEST(OutlierDetector, RemovedEndpointsLoseTheirState) {
  OutlierDetector od(policy(5, 0, 50));
  od.set_endpoints(ids(2));
  report_n(od, 1, 500, 5);
  report_n(od, 2, 500, 4);
  od.drain_events();
  od.set_endpoints({2, 3});
  EXPECT_EQ(od.drain_events(), std::vector<Event>{returned(1, Reason::kRemoved, 1)});
  EXPECT_FALSE(od.ejected(1));
  EXPECT_EQ(od.stats().ejections_active, 0u);
  od.report(1, 500, T0);  // unknown: ignored

  od.set_endpoints({1, 2, 3, 4});  // 1 comes back clean; 50% of 4 allows 2
  report_n(od, 1, 500, 5);
  od.report(2, 500, T0);  // its fifth in a row: its count survived
  EXPECT_TRUE(od.ejected(1));
  EXPECT_TRUE(od.ejected(2));
  EXPECT_EQ(od.drain_events(), (std::vector<Event>{ejection(1, Reason::kConsecutive5xx, 1, 30s),
                                                   ejection(2, Reason::kConsecutive5xx, 1, 30s)}));
}

// --- threads ---------------------------------------------------------------------

TEST(OutlierDetector, ConcurrentReportersAgree) {
  OutlierDetector od(policy());
  od.set_endpoints(ids(9));
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&od, t] {
      const uint64_t failing = 2 * t + 1, flaky = 2 * t + 2, shared = 9;
      for (int i = 0; i < 2000; ++i) {
        od.report(flaky, i % 2 ? 200 : 503, T0);  // never 5 in a row
        od.report(shared, 500, T0);
        if (i < 5) od.report(failing, 500, T0);
        (void)od.ejected(flaky);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_TRUE(od.ejected(2 * t + 1));
    EXPECT_FALSE(od.ejected(2 * t + 2));
  }
  EXPECT_TRUE(od.ejected(9));
  EXPECT_EQ(od.drain_events().size(), kThreads + 1u);  // the shared host is ejected once
  EXPECT_EQ(od.stats().ejections_active, kThreads + 1u);
}
