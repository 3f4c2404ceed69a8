#include "rate_limits.h"

namespace sluice::policy {
namespace {

std::chrono::milliseconds millis(const google::protobuf::Duration& d) {
  return std::chrono::milliseconds(d.seconds() * 1000 + d.nanos() / 1000000);
}

}  // namespace

std::shared_ptr<RateLimits> RateLimits::compile(
    const config::SharedList<config::IstioResource<istio::sluice::RateLimitPolicy>>& policies,
    const RateLimits* previous, TokenBucket::Clock::time_point now) {
  auto out = std::make_shared<RateLimits>();
  for (const auto& r : policies) {
    const auto& spec = r->spec;
    if (!spec.has_token_bucket()) continue;  // connections only: the kernel's (connect_policy.h)
    Rule rule{r->meta.ns + "/" + r->meta.name, r->meta.ns, spec.service(), spec.route(), spec.source_namespace(), nullptr};
    const auto& tb = spec.token_bucket();
    const uint32_t per_fill = tb.tokens_per_fill() ? tb.tokens_per_fill() : 1;
    const auto interval = millis(tb.fill_interval());
    if (previous) {
      for (const Rule& old : previous->rules_) {
        if (old.id == rule.id && old.bucket->max_tokens() == tb.max_tokens() &&
            old.bucket->tokens_per_fill() == per_fill && old.bucket->fill_interval() == interval) {
          rule.bucket = old.bucket;
          break;
        }
      }
    }
    if (!rule.bucket) rule.bucket = std::make_shared<TokenBucket>(tb.max_tokens(), per_fill, interval, now);
    out->rules_.push_back(std::move(rule));
  }
  return out;
}

std::optional<std::chrono::milliseconds> RateLimits::refused(const RateLimitRequest& r,
                                                             TokenBucket::Clock::time_point now) const {
  std::optional<std::chrono::milliseconds> out;
  for (const Rule& rule : rules_) {
    if (rule.service != r.service || rule.service_ns != r.service_ns) continue;
    if (!rule.route.empty() && rule.route != r.route) continue;
    if (!rule.source_ns.empty() && rule.source_ns != r.source_ns) continue;
    const TokenBucket::Take t = rule.bucket->take(now);
    if (!t.ok && !out) out = t.retry_after;
  }
  return out;
}

std::shared_ptr<const RateLimits> RateLimitRegistry::for_snapshot(const config::MeshSnapshot& snap) {
  std::lock_guard lock(mu_);
  if (snap.version != version_ || !current_) {
    auto next = RateLimits::compile(snap.resources.rate_limit_policies, current_.get(), TokenBucket::Clock::now());
    next->envoy_ = EnvoyRateLimits::compile(snap.resources.envoy_filters, current_ ? &current_->envoy_ : nullptr);
    current_ = std::move(next);
    version_ = snap.version;
  }
  return current_;
}

}  // namespace sluice::policy
