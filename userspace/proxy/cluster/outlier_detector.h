// Outlier detection for one cluster (service port and subset) with Istio's
// DestinationRule semantics, as Envoy implements them
// (source/common/upstream/outlier_detection_impl.cc). Shared by all worker
// threads: they report each upstream result and ask whether an endpoint is
// ejected; the daemon calls tick() every `interval` and mirrors the drained
// events into the kernel backend map (SL_BE_F_EJECTED), so that L4 traffic
// avoids ejected endpoints too.
//
// What it does, and why:
// - Any 5xx, and a locally originated failure (connect failure, reset,
//   timeout: report status 0), adds to the consecutive-5xx count. 502, 503,
//   504 and local failures add to the consecutive-gateway-error count; any
//   other 5xx clears it. A non-5xx clears both. Envoy maps a local connect
//   failure to 503 and a timeout to 504 when split_external_local_origin_errors
//   is off, as Istio leaves it.
// - A count that reaches its threshold ejects the endpoint at once (not at the
//   next interval), then restarts. A threshold of 0 turns that trigger off.
// - maxEjectionPercent: an ejection is refused when it would take the ejected
//   share above the limit, counting the new ejection (Envoy since mid-2023).
//   With Options::always_eject_one_host (the default here, as sluice's
//   semantics promise "at least one host may always be ejected"), the first
//   ejection is always allowed, like Envoy's always_eject_one_host.
// - An ejection lasts base_ejection_time x the endpoint's multiplier, capped at
//   max(max_ejection_time, base_ejection_time). Each ejection raises the
//   multiplier; each interval an endpoint spends un-ejected (after its first
//   return) lowers it by one. tick() returns an endpoint once its time is up,
//   so an ejection lasts until the first tick after it expires, as in Envoy.
// - minHealthPercent is Envoy's healthy_panic_threshold (Istio sets it from
//   this field): while fewer than that percentage of endpoints are un-ejected,
//   the pool is in panic. ejected() is then false for every endpoint, so the
//   proxy balances across all of them. Ejection state is kept and reapplies
//   when enough endpoints return. 0 (Istio's default) never panics.
// - Hot path: report() of a success and ejected() take no lock while no
//   endpoint has errors or is ejected; otherwise a short mutex.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "traffic_policy.h"

namespace sluice::proxy {

class OutlierDetector {
 public:
  using Clock = std::chrono::steady_clock;

  // The status to report when no response arrived: connect failure, reset or
  // timeout. It counts as a gateway error.
  static constexpr unsigned kLocalOriginFailure = 0;

  struct Options {
    // Allow one ejection whatever maxEjectionPercent says. Envoy's field of
    // the same name defaults to false and Istio never sets it; before mid-2023
    // Envoy always behaved as if it were true.
    bool always_eject_one_host = true;
  };

  enum class Reason : uint8_t {
    kConsecutive5xx,            // ejected: consecutive_5xx_errors reached
    kConsecutiveGatewayErrors,  // ejected: consecutive_gateway_errors reached
    kExpired,                   // returned: its ejection time is over
    kPanic,                     // returned: healthy share below minHealthPercent
    kPanicOver,                 // ejected again: healthy share back at minHealthPercent
    kRemoved,                   // returned: no longer in the endpoint set
  };

  // A change of what ejected() answers for one endpoint: the daemon sets or
  // clears SL_BE_F_EJECTED accordingly, and logs it.
  struct Event {
    uint64_t endpoint_id = 0;
    bool ejected = false;
    Reason reason = Reason::kConsecutive5xx;
    uint32_t ejection_count = 0;  // times ejected since it joined the set
    std::chrono::milliseconds duration{0};  // ejection length, on ejections
    bool operator==(const Event&) const = default;
  };

  // Envoy's outlier_detection.* statistics that apply here.
  struct Stats {
    uint64_t ejections_active = 0;
    uint64_t ejections_enforced_total = 0;
    uint64_t ejections_enforced_consecutive_5xx = 0;
    uint64_t ejections_enforced_consecutive_gateway_failure = 0;
    uint64_t ejections_overflow = 0;  // refused by maxEjectionPercent
    bool panic = false;
  };

  explicit OutlierDetector(config::OutlierPolicy policy) : OutlierDetector(policy, Options{}) {}
  OutlierDetector(config::OutlierPolicy policy, Options options);

  // The endpoints of the cluster now; call it before the first report and on
  // every endpoint change. New ones start clean; the state of removed ones is
  // dropped, and reports for endpoints outside the set are ignored.
  // Percentages are computed over this set.
  void set_endpoints(const std::vector<uint64_t>& endpoint_ids);

  // The result of one upstream attempt: the response status, or
  // kLocalOriginFailure. Never report local replies such as circuit-breaker
  // overflows (UO): they say nothing about the endpoint.
  void report(uint64_t endpoint_id, unsigned status, Clock::time_point now);

  // Called every interval(): returns endpoints whose ejection is over and
  // lowers the multiplier of those that stayed un-ejected.
  void tick(Clock::time_point now);

  // Whether the load balancer must skip the endpoint.
  bool ejected(uint64_t endpoint_id) const;

  std::vector<Event> drain_events();
  Stats stats() const;

  bool enabled() const { return policy_.enabled; }
  std::chrono::milliseconds interval() const { return std::chrono::milliseconds(policy_.interval_ms); }

 private:
  struct Host {
    uint32_t consecutive_5xx = 0;
    uint32_t consecutive_gateway = 0;
    uint32_t multiplier = 0;     // Envoy's ejectTimeBackoff
    uint32_t num_ejections = 0;  // Envoy's numEjections
    bool ejected = false;
    bool returned_once = false;  // Envoy's lastUnejectionTime has a value
    Clock::time_point ejected_at{};
    Clock::time_point returned_at{};
  };

  // All private members run under mu_.
  std::chrono::milliseconds ejection_time(const Host& h) const;
  void eject(uint64_t id, Host& h, Reason reason, Clock::time_point now);
  // Sets a host's counts, keeping hosts_with_errors_ in step.
  void set_counts(Host& h, uint32_t c5xx, uint32_t cgw);
  Event make_event(uint64_t id, const Host& h, bool ejected, Reason reason) const;
  bool is_panic() const;
  // After ejections changed: recomputes panic and, if it flipped, emits an
  // event for every ejected host but `skip` (whose own event the caller made).
  void settle_panic(bool old_panic, const Host* skip);

  const config::OutlierPolicy policy_;
  const Options options_;
  const std::chrono::milliseconds max_ejection_time_;

  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Host> hosts_;
  std::vector<Event> events_;
  Stats stats_;
  // Lock-free fast paths (written under mu_): how many endpoints have a
  // non-zero count, and how many ejected() reports as ejected.
  std::atomic<uint64_t> hosts_with_errors_{0};
  std::atomic<uint64_t> visible_ejections_{0};
};

std::string_view to_string(OutlierDetector::Reason reason);

}  // namespace sluice::proxy
