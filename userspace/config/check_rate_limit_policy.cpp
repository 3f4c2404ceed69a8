// sluice.io RateLimitPolicy on its own (sluice's kind; Envoy's token bucket
// rules: max_tokens > 0, fill_interval >= 50 ms).
#include "resource_checks.h"

namespace sluice::config {

void check_rate_limit_policy(ResourceChecker& c, const istio::sluice::RateLimitPolicy& p) {
  if (p.service().empty()) {
    c.error("spec.service", "service is required");
  } else if (!is_dns1123_label(p.service())) {
    c.error("spec.service", "service must be a Service name in the policy's namespace, found \"" + p.service() + "\"");
  }
  if (!p.source_namespace().empty() && !is_dns1123_label(p.source_namespace())) {
    c.error("spec.sourceNamespace", "invalid namespace \"" + p.source_namespace() + "\"");
  }
  if (!p.has_token_bucket()) {
    c.error("spec.tokenBucket", "tokenBucket is required");
    return;
  }
  const auto& b = p.token_bucket();
  if (b.max_tokens() == 0) c.error("spec.tokenBucket.maxTokens", "maxTokens must be greater than 0");
  if (!b.has_fill_interval()) {
    c.error("spec.tokenBucket.fillInterval", "fillInterval is required");
  } else {
    const int64_t ms = b.fill_interval().seconds() * 1000 + b.fill_interval().nanos() / 1000000;
    if (ms < 50) c.error("spec.tokenBucket.fillInterval", "fillInterval must be at least 50ms");
  }
}

}  // namespace sluice::config
