#include "filter_chain.h"

#include "access_log_filter.h"
#include "authz_filter.h"
#include "fault_filter.h"
#include "metrics_filter.h"
#include "rate_limit_filter.h"
#include "tracing_filter.h"

namespace sluice::proxy {

FilterChain FilterChain::standard(const ProxyOptions& options) {
  FilterChain chain;
  if (options.tracing.exporter) chain.add(std::make_unique<TracingFilter>(options.tracing));
  chain.add(std::make_unique<AuthzFilter>());
  if (options.rate_limits) chain.add(std::make_unique<RateLimitFilter>(options.rate_limits));
  chain.add(std::make_unique<FaultFilter>());
  if (options.metrics) chain.add(std::make_unique<MetricsFilter>(options.metrics));
  if (options.access_log) chain.add(std::make_unique<AccessLogFilter>(options.access_log));
  return chain;
}

}  // namespace sluice::proxy
