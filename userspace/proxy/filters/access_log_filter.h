// The access log as a completion filter: one JSON line per request, written
// through the daemon's sink (a buffered stdout writer).
#pragma once

#include <functional>
#include <string>

#include "request_filter.h"

namespace sluice::proxy {

class AccessLogFilter final : public RequestFilter {
 public:
  explicit AccessLogFilter(std::function<void(const std::string&)> sink) : sink_(std::move(sink)) {}
  FilterAction on_request(RequestContext&) override { return {}; }
  void on_complete(const RequestContext&, const telemetry::AccessLogEntry& done) override { sink_(telemetry::format_access_log(done)); }

 private:
  std::function<void(const std::string&)> sink_;
};

}  // namespace sluice::proxy
