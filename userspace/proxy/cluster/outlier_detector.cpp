#include "outlier_detector.h"

#include <algorithm>
#include <limits>
#include <unordered_set>

namespace sluice::proxy {

namespace {

bool is_5xx(unsigned status) {
  return status == OutlierDetector::kLocalOriginFailure || (status >= 500 && status <= 599);
}

// Envoy's Http::CodeUtility::isGatewayError, plus local-origin failures,
// which Envoy reports as 503 (connect failure) or 504 (timeout).
bool is_gateway_error(unsigned status) {
  return status == OutlierDetector::kLocalOriginFailure || status == 502 || status == 503 || status == 504;
}

uint32_t bump(uint32_t n) { return n == std::numeric_limits<uint32_t>::max() ? n : n + 1; }

}  // namespace

std::string_view to_string(OutlierDetector::Reason reason) {
  switch (reason) {
    case OutlierDetector::Reason::kConsecutive5xx: return "consecutive_5xx";
    case OutlierDetector::Reason::kConsecutiveGatewayErrors: return "consecutive_gateway_errors";
    case OutlierDetector::Reason::kExpired: return "ejection_expired";
    case OutlierDetector::Reason::kPanic: return "min_health_panic";
    case OutlierDetector::Reason::kPanicOver: return "min_health_restored";
    case OutlierDetector::Reason::kRemoved: return "endpoint_removed";
  }
  return "unknown";
}

OutlierDetector::OutlierDetector(config::OutlierPolicy policy, Options options)
    : policy_(policy),
      options_(options),
      // Istio never sets Envoy's max_ejection_time, whose default is then the
      // larger of 300 s and base_ejection_time.
      max_ejection_time_(std::max(policy.max_ejection_time_ms, policy.base_ejection_time_ms)) {}

std::chrono::milliseconds OutlierDetector::ejection_time(const Host& h) const {
  return std::min(std::chrono::milliseconds(policy_.base_ejection_time_ms) * h.multiplier, max_ejection_time_);
}

bool OutlierDetector::is_panic() const {
  const uint64_t total = hosts_.size();
  if (policy_.min_health_percent == 0 || total == 0) return false;
  const uint64_t healthy = total - stats_.ejections_active;
  return 100 * healthy < uint64_t{policy_.min_health_percent} * total;  // Envoy: healthy% < threshold
}

void OutlierDetector::set_counts(Host& h, uint32_t c5xx, uint32_t cgw) {
  const bool had = h.consecutive_5xx != 0 || h.consecutive_gateway != 0;
  const bool has = c5xx != 0 || cgw != 0;
  h.consecutive_5xx = c5xx;
  h.consecutive_gateway = cgw;
  if (had != has) {
    if (has) {
      hosts_with_errors_.fetch_add(1, std::memory_order_release);
    } else {
      hosts_with_errors_.fetch_sub(1, std::memory_order_release);
    }
  }
}

OutlierDetector::Event OutlierDetector::make_event(uint64_t id, const Host& h, bool ejected, Reason reason) const {
  return {id, ejected, reason, h.num_ejections, ejected ? ejection_time(h) : std::chrono::milliseconds{0}};
}

void OutlierDetector::settle_panic(bool old_panic, const Host* skip) {
  stats_.panic = is_panic();
  if (stats_.panic != old_panic) {
    // Every endpoint still ejected flips in what ejected() answers.
    for (const auto& [id, h] : hosts_) {
      if (h.ejected && &h != skip) {
        events_.push_back(make_event(id, h, !stats_.panic, stats_.panic ? Reason::kPanic : Reason::kPanicOver));
      }
    }
  }
  visible_ejections_.store(stats_.panic ? 0 : stats_.ejections_active, std::memory_order_release);
}

void OutlierDetector::eject(uint64_t id, Host& h, Reason reason, Clock::time_point now) {
  // Envoy's DetectorImpl::ejectHost: the share ejected after this ejection.
  const uint64_t active = stats_.ejections_active;
  const uint64_t max_percent = std::min<uint64_t>(100, policy_.max_ejection_percent);
  bool allowed = 100 * (active + 1) <= max_percent * hosts_.size();
  if (options_.always_eject_one_host && active == 0) allowed = true;
  if (!allowed) {
    ++stats_.ejections_overflow;
    return;
  }
  const bool old_panic = stats_.panic;
  h.ejected = true;
  h.ejected_at = now;
  ++h.num_ejections;
  // Envoy stops raising the multiplier once base x multiplier reaches
  // max + base, so a host at the cap decays below it after a few intervals.
  const auto base = std::chrono::milliseconds(policy_.base_ejection_time_ms);
  if (base * h.multiplier < max_ejection_time_ + base) ++h.multiplier;
  ++stats_.ejections_active;
  ++stats_.ejections_enforced_total;
  if (reason == Reason::kConsecutive5xx) {
    ++stats_.ejections_enforced_consecutive_5xx;
  } else {
    ++stats_.ejections_enforced_consecutive_gateway_failure;
  }
  if (!is_panic()) events_.push_back(make_event(id, h, true, reason));
  settle_panic(old_panic, &h);
}

void OutlierDetector::set_endpoints(const std::vector<uint64_t>& endpoint_ids) {
  if (!policy_.enabled) return;
  const std::unordered_set<uint64_t> wanted(endpoint_ids.begin(), endpoint_ids.end());
  std::lock_guard lock(mu_);
  const bool old_panic = stats_.panic;
  for (auto it = hosts_.begin(); it != hosts_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    Host& h = it->second;
    if (h.ejected) {
      --stats_.ejections_active;
      if (!old_panic) events_.push_back(make_event(it->first, h, false, Reason::kRemoved));
    }
    set_counts(h, 0, 0);
    it = hosts_.erase(it);
  }
  for (uint64_t id : wanted) hosts_.try_emplace(id);
  settle_panic(old_panic, nullptr);
}

void OutlierDetector::report(uint64_t endpoint_id, unsigned status, Clock::time_point now) {
  if (!policy_.enabled) return;
  const bool error = is_5xx(status);
  // A success with no endpoint in error changes nothing: skip the lock.
  if (!error && hosts_with_errors_.load(std::memory_order_acquire) == 0) return;

  std::lock_guard lock(mu_);
  const auto it = hosts_.find(endpoint_id);
  if (it == hosts_.end()) return;  // removed while the request was in flight
  Host& h = it->second;
  if (!error) {
    set_counts(h, 0, 0);
    return;
  }
  const bool gateway = is_gateway_error(status);
  set_counts(h, bump(h.consecutive_5xx), gateway ? bump(h.consecutive_gateway) : 0);

  // Envoy fires a trigger when a count *reaches* its threshold (so 0 never
  // fires), checks the gateway count first, and ignores a trigger for a host
  // that is already ejected without restarting its count.
  if (gateway && h.consecutive_gateway == policy_.consecutive_gateway_errors && !h.ejected) {
    eject(endpoint_id, h, Reason::kConsecutiveGatewayErrors, now);
    set_counts(h, h.consecutive_5xx, 0);
  }
  if (h.consecutive_5xx == policy_.consecutive_5xx_errors && !h.ejected) {
    eject(endpoint_id, h, Reason::kConsecutive5xx, now);
    set_counts(h, 0, h.consecutive_gateway);
  }
}

void OutlierDetector::tick(Clock::time_point now) {
  if (!policy_.enabled) return;
  std::lock_guard lock(mu_);
  const bool old_panic = stats_.panic;
  // Envoy's onIntervalTimer: return the hosts whose time is up first, then
  // lower the multiplier of hosts back for at least an interval, so a host
  // returned by this tick keeps its multiplier until the next one.
  for (auto& [id, h] : hosts_) {
    if (!h.ejected || now - h.ejected_at < ejection_time(h)) continue;
    h.ejected = false;
    h.returned_once = true;
    h.returned_at = now;
    set_counts(h, 0, 0);  // a host near a threshold must not be re-ejected by one error
    --stats_.ejections_active;
    if (!old_panic) events_.push_back(make_event(id, h, false, Reason::kExpired));
  }
  for (auto& [id, h] : hosts_) {
    if (!h.ejected && h.returned_once && h.multiplier > 0 && now - h.returned_at >= interval()) --h.multiplier;
  }
  settle_panic(old_panic, nullptr);
}

bool OutlierDetector::ejected(uint64_t endpoint_id) const {
  if (!policy_.enabled || visible_ejections_.load(std::memory_order_acquire) == 0) return false;
  std::lock_guard lock(mu_);
  if (stats_.panic) return false;
  const auto it = hosts_.find(endpoint_id);
  return it != hosts_.end() && it->second.ejected;
}

std::vector<OutlierDetector::Event> OutlierDetector::drain_events() {
  std::lock_guard lock(mu_);
  std::vector<Event> out;
  out.swap(events_);
  return out;
}

OutlierDetector::Stats OutlierDetector::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace sluice::proxy
