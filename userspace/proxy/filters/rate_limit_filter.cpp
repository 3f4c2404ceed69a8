#include "rate_limit_filter.h"

#include <random>

#include "ip_text.h"

namespace sluice::proxy {

FilterAction RateLimitFilter::on_request(RequestContext& ctx) {
  FilterAction act;
  const RouteDecision& d = ctx.route;
  if (!d.target || !d.target->service) return act;
  if (d.snapshot->version != version_ || !limits_) {
    limits_ = registry_->for_snapshot(*d.snapshot);
    version_ = d.snapshot->version;
  }
  if (limits_->empty()) return act;
  const config::Service& service = *d.target->service;
  policy::RateLimitRequest r{service.ns, service.name, d.route ? std::string_view(d.route->spec->name()) : "",
                             d.source.known() ? std::string_view(*d.source.ns) : ""};
  const auto now = policy::TokenBucket::Clock::now();
  std::optional<std::chrono::milliseconds> refused = limits_->refused(r, now);
  const std::vector<std::pair<std::string, std::string>>* envoy_headers = nullptr;
  if (!refused && !limits_->envoy().empty() && d.endpoint) {
    // Istio's local-rate-limit EnvoyFilter: per instance of the workload.
    const std::string source_key = d.source.known() ? format_ip(ctx.downstream.peer_ip) : "";
    const std::string_view pod = d.endpoint->pod;
    const size_t slash = pod.find('/');
    policy::EnvoyRateLimitRequest er;
    er.dest_pod = pod.empty() ? std::string_view() : pod;
    er.dest_ns = slash == std::string_view::npos ? std::string_view(service.ns) : pod.substr(0, slash);
    er.dest_labels = d.endpoint->labels.get();
    er.dest_port = d.endpoint->port;
    er.service_port = d.original_port;
    er.source_pod = source_key;
    er.source_ns = d.source.known() ? std::string_view(*d.source.ns) : std::string_view();
    er.source_labels = d.source.labels;
    std::uniform_real_distribution<double> roll(0.0, 1.0);
    if (auto e = limits_->envoy().refused(er, now, {roll(ctx.rng), roll(ctx.rng)})) {
      refused = e->retry_after;
      envoy_headers = e->headers;
    }
  }
  if (!refused) return act;
  act.local_status = 429;
  act.local_body = "local_rate_limited";
  // Whole seconds, rounded up: a client that waits that long finds a token.
  const auto seconds = std::max<int64_t>(1, (refused->count() + 999) / 1000);
  act.local_headers.emplace_back("retry-after", std::to_string(seconds));
  if (envoy_headers) {
    // Envoy's local rate limit marks its refusals, and adds the filter's
    // response_headers_to_add to them.
    act.local_headers.emplace_back("x-envoy-ratelimited", "true");
    act.local_headers.insert(act.local_headers.end(), envoy_headers->begin(), envoy_headers->end());
  }
  act.flags.set(telemetry::ResponseFlag::kRateLimited);
  return act;
}

}  // namespace sluice::proxy
