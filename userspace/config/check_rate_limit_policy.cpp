// sluice.io RateLimitPolicy on its own (sluice's kind; Envoy's token bucket
// rules: max_tokens > 0, fill_interval >= 50 ms). A policy has a request
// bucket (with its service), a connection bucket, or both.
#include "resource_checks.h"

namespace sluice::config {

namespace {

void check_bucket(ResourceChecker& c, const std::string& path, const istio::sluice::TokenBucket& b) {
  if (b.max_tokens() == 0) c.error(path + ".maxTokens", "maxTokens must be greater than 0");
  if (!b.has_fill_interval()) {
    c.error(path + ".fillInterval", "fillInterval is required");
  } else {
    const int64_t ms = b.fill_interval().seconds() * 1000 + b.fill_interval().nanos() / 1000000;
    if (ms < 50) c.error(path + ".fillInterval", "fillInterval must be at least 50ms");
  }
}

}  // namespace

void check_rate_limit_policy(ResourceChecker& c, const istio::sluice::RateLimitPolicy& p) {
  if (!p.has_token_bucket() && !p.has_connection_bucket()) {
    c.error("spec.tokenBucket", "tokenBucket (requests to a service) or connectionBucket (connections from pods) is required");
    return;
  }
  if (p.has_token_bucket()) {
    if (p.service().empty()) {
      c.error("spec.service", "service is required with tokenBucket");
    } else if (!is_dns1123_label(p.service())) {
      c.error("spec.service", "service must be a Service name in the policy's namespace, found \"" + p.service() + "\"");
    }
    check_bucket(c, "spec.tokenBucket", p.token_bucket());
  } else if (!p.service().empty() || !p.route().empty()) {
    c.warning("spec.service", "service and route apply to tokenBucket only; connectionBucket counts every connection");
  }
  if (!p.source_namespace().empty() && !is_dns1123_label(p.source_namespace())) {
    c.error("spec.sourceNamespace", "invalid namespace \"" + p.source_namespace() + "\"");
  }
  if (p.has_connection_bucket()) check_bucket(c, "spec.connectionBucket", p.connection_bucket());
  if (p.has_source_selector()) c.selector_labels("spec.sourceSelector.matchLabels", p.source_selector().match_labels());
}

}  // namespace sluice::config
