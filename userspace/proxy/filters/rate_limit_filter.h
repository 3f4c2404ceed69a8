// sluice.io RateLimitPolicy as a request filter (docs/security.md "Rate
// limits"): a request its policy's bucket has no token for gets 429 with
// Envoy's body "local_rate_limited", a retry-after header (seconds until
// the next fill) and flag RL. The buckets are the node's, shared by every
// worker (policy/rate_limits.h). Istio's local-rate-limit EnvoyFilter is
// enforced here too (policy/envoy_rate_limits.h), its refusals marked
// x-envoy-ratelimited and given the filter's response_headers_to_add.
#pragma once

#include <memory>

#include "rate_limits.h"
#include "request_filter.h"

namespace sluice::proxy {

class RateLimitFilter final : public RequestFilter {
 public:
  explicit RateLimitFilter(std::shared_ptr<policy::RateLimitRegistry> registry) : registry_(std::move(registry)) {}
  FilterAction on_request(RequestContext& ctx) override;

 private:
  std::shared_ptr<policy::RateLimitRegistry> registry_;
  uint64_t version_ = ~0ULL;  // of the snapshot limits_ is for: the registry's lock once per version
  std::shared_ptr<const policy::RateLimits> limits_;
};

}  // namespace sluice::proxy
