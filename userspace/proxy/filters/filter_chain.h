// The filters of one worker, in order (request_filter.h).
#pragma once

#include <memory>
#include <vector>

#include "proxy_options.h"
#include "request_filter.h"

namespace sluice::proxy {

class FilterChain {
 public:
  // The filters sluiced runs, in Envoy's order: tracing first (it starts
  // the span, so every answer is traced), authorization (RBAC), rate
  // limits, then faults, before any upstream work; then metrics; the access
  // log last.
  static FilterChain standard(const ProxyOptions& options);

  void add(std::unique_ptr<RequestFilter> f) { filters_.push_back(std::move(f)); }
  const std::vector<std::unique_ptr<RequestFilter>>& filters() const { return filters_; }

  void on_response(RequestContext& ctx, ResponseHeader& headers) const {
    for (const auto& f : filters_) f->on_response(ctx, headers);
  }
  void on_complete(const RequestContext& ctx, const telemetry::AccessLogEntry& done) const {
    for (const auto& f : filters_) f->on_complete(ctx, done);
  }

 private:
  std::vector<std::unique_ptr<RequestFilter>> filters_;
};

}  // namespace sluice::proxy
