// Istio's local-rate-limit EnvoyFilter, enforced (docs/security.md, "Istio's
// EnvoyFilter"): each translated patch (config/envoy_local_rate_limit.h) is a
// token bucket per instance of the selected workload, as Envoy keeps one per
// sidecar: SIDECAR_INBOUND counts the requests to each selected pod,
// SIDECAR_OUTBOUND those from it. The buckets are this node's, so a pod gets
// the configured rate from each node's clients (Envoy's bucket sat in front
// of the pod and saw every node's). Buckets survive a reload when their
// patch did not change.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "envoy_local_rate_limit.h"
#include "resource_set.h"
#include "token_bucket.h"

namespace sluice::policy {

struct EnvoyRateLimitRequest {
  std::string_view dest_pod;  // namespace/name of the endpoint's pod; "" unknown
  std::string_view dest_ns;
  const config::Labels* dest_labels = nullptr;
  uint16_t dest_port = 0;     // the endpoint's port
  uint16_t service_port = 0;  // the port the client addressed
  std::string_view source_pod;  // namespace/name; "" unknown
  std::string_view source_ns;
  const config::Labels* source_labels = nullptr;
};

struct EnvoyRateLimitRefusal {
  std::chrono::milliseconds retry_after{0};
  const std::vector<std::pair<std::string, std::string>>* headers = nullptr;  // response_headers_to_add
};

class EnvoyRateLimits {
 public:
  // previous: the limits in force, whose buckets are kept where unchanged.
  static EnvoyRateLimits compile(
      const config::SharedList<config::IstioResource<istio::networking::EnvoyFilter>>& filters,
      const EnvoyRateLimits* previous, std::string_view root_namespace = "istio-system");

  // rolls: two numbers in [0, 1) for filter_enabled and filter_enforced.
  std::optional<EnvoyRateLimitRefusal> refused(const EnvoyRateLimitRequest& r, TokenBucket::Clock::time_point now,
                                               std::pair<double, double> rolls) const;
  bool empty() const { return rules_.empty(); }
  size_t size() const { return rules_.size(); }

 private:
  // One bucket per workload instance, made on its first request.
  struct Buckets {
    std::mutex mu;
    std::unordered_map<std::string, std::shared_ptr<TokenBucket>> by_pod;
  };
  struct Rule {
    std::string id;  // namespace/name spec.configPatches[i]
    std::string ns;  // "" from the root namespace: every namespace
    config::Labels selector;
    config::EnvoyLocalRateLimit limit;
    std::shared_ptr<Buckets> buckets;
  };

  std::vector<Rule> rules_;
};

}  // namespace sluice::policy
