// sluice.io RateLimitPolicy, compiled: each policy's token bucket and what
// requests it counts (a service, optionally one route of it and one source
// namespace). Shared by the workers of one node (token_bucket.h), and kept
// across reloads: a policy whose bucket did not change keeps its bucket, so
// a config change does not refill it.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "envoy_rate_limits.h"
#include "mesh_snapshot.h"
#include "token_bucket.h"

namespace sluice::policy {

struct RateLimitRequest {
  std::string_view service_ns, service;  // the destination service
  std::string_view route;                // the matched route's name, "" if none
  std::string_view source_ns;            // the client pod's namespace, "" if unknown
};

class RateLimits {
 public:
  struct Rule {
    std::string id;  // namespace/name of the policy
    std::string service_ns, service, route, source_ns;
    std::shared_ptr<TokenBucket> bucket;
  };

  // previous: the rules in force, whose buckets are kept where the policy and
  // its bucket are unchanged.
  static std::shared_ptr<RateLimits> compile(
      const config::SharedList<config::IstioResource<istio::sluice::RateLimitPolicy>>& policies,
      const RateLimits* previous, TokenBucket::Clock::time_point now);

  // Takes a token from every policy the request counts for; a refusal gives
  // the time until that bucket's next fill.
  std::optional<std::chrono::milliseconds> refused(const RateLimitRequest& r, TokenBucket::Clock::time_point now) const;
  bool empty() const { return rules_.empty() && envoy_.empty(); }
  const std::vector<Rule>& rules() const { return rules_; }
  // Istio's local-rate-limit EnvoyFilters, kept with the node's other limits.
  const EnvoyRateLimits& envoy() const { return envoy_; }

 private:
  friend class RateLimitRegistry;
  std::vector<Rule> rules_;
  EnvoyRateLimits envoy_;
};

// The node's rate limits for the snapshot in force: compiled once per
// snapshot version, by the first worker that asks.
class RateLimitRegistry {
 public:
  std::shared_ptr<const RateLimits> for_snapshot(const config::MeshSnapshot& snap);

 private:
  std::mutex mu_;
  uint64_t version_ = ~0ULL;
  std::shared_ptr<const RateLimits> current_;
};

}  // namespace sluice::policy
