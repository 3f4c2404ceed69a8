#include "envoy_rate_limits.h"

#include <algorithm>

namespace sluice::policy {

namespace {

using Filter = istio::networking::EnvoyFilter;

bool same_limit(const config::EnvoyLocalRateLimit& a, const config::EnvoyLocalRateLimit& b) {
  return a.max_tokens == b.max_tokens && a.tokens_per_fill == b.tokens_per_fill && a.fill_interval == b.fill_interval;
}

bool selects(const config::Labels& selector, const config::Labels* labels) {
  if (selector.empty()) return true;
  if (!labels) return false;
  return std::all_of(selector.begin(), selector.end(), [&](const auto& kv) {
    auto it = labels->find(kv.first);
    return it != labels->end() && it->second == kv.second;
  });
}

}  // namespace

EnvoyRateLimits EnvoyRateLimits::compile(
    const config::SharedList<config::IstioResource<istio::networking::EnvoyFilter>>& filters,
    const EnvoyRateLimits* previous, std::string_view root_namespace) {
  EnvoyRateLimits out;
  for (const auto& f : filters) {
    const config::EnvoyFilterReading reading = config::read_envoy_filter(f->spec);
    for (const config::EnvoyLocalRateLimit& limit : reading.limits) {
      Rule rule;
      rule.id = f->meta.ns + "/" + f->meta.name + " " + limit.path;
      rule.ns = f->meta.ns == root_namespace ? "" : f->meta.ns;
      for (const auto& [k, v] : f->spec.workload_selector().labels()) rule.selector[k] = v;
      rule.limit = limit;
      if (previous) {
        for (const Rule& old : previous->rules_) {
          if (old.id == rule.id && same_limit(old.limit, limit)) rule.buckets = old.buckets;
        }
      }
      if (!rule.buckets) rule.buckets = std::make_shared<Buckets>();
      out.rules_.push_back(std::move(rule));
    }
  }
  return out;
}

std::optional<EnvoyRateLimitRefusal> EnvoyRateLimits::refused(const EnvoyRateLimitRequest& r,
                                                              TokenBucket::Clock::time_point now,
                                                              std::pair<double, double> rolls) const {
  std::optional<EnvoyRateLimitRefusal> out;
  for (const Rule& rule : rules_) {
    const bool outbound = rule.limit.context == Filter::SIDECAR_OUTBOUND;
    // The instance whose sidecar Envoy would have counted this request in.
    const std::string_view pod = outbound ? r.source_pod : r.dest_pod;
    const std::string_view ns = outbound ? r.source_ns : r.dest_ns;
    if (pod.empty()) continue;
    if (!rule.ns.empty() && rule.ns != ns) continue;
    if (!selects(rule.selector, outbound ? r.source_labels : r.dest_labels)) continue;
    if (rule.limit.port && rule.limit.port != r.service_port && rule.limit.port != r.dest_port) continue;
    if (rolls.first >= rule.limit.enabled) continue;  // filter_enabled: this request is not looked at
    std::shared_ptr<TokenBucket> bucket;
    {
      std::lock_guard lock(rule.buckets->mu);
      auto& slot = rule.buckets->by_pod[std::string(pod)];
      if (!slot) {
        slot = std::make_shared<TokenBucket>(rule.limit.max_tokens, rule.limit.tokens_per_fill,
                                             rule.limit.fill_interval, now);
      }
      bucket = slot;
    }
    const TokenBucket::Take t = bucket->take(now);
    // filter_enforced: a refusal that is not enforced only counts.
    if (!t.ok && !out && rolls.second < rule.limit.enforced) out = EnvoyRateLimitRefusal{t.retry_after, &rule.limit.response_headers};
  }
  return out;
}

}  // namespace sluice::policy
