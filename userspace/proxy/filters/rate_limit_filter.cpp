#include "rate_limit_filter.h"

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
  const auto refused = limits_->refused(r, policy::TokenBucket::Clock::now());
  if (!refused) return act;
  act.local_status = 429;
  act.local_body = "local_rate_limited";
  // Whole seconds, rounded up: a client that waits that long finds a token.
  const auto seconds = std::max<int64_t>(1, (refused->count() + 999) / 1000);
  act.local_headers.emplace_back("retry-after", std::to_string(seconds));
  act.flags.set(telemetry::ResponseFlag::kRateLimited);
  return act;
}

}  // namespace sluice::proxy
