// Istio's HTTPFaultInjection as a request filter: a route's delay holds the
// request (flag DI), its abort answers locally (flag FI), each firing with
// its own percentage (fault_injection.h decides).
#pragma once

#include "request_filter.h"

namespace sluice::proxy {

class FaultFilter final : public RequestFilter {
 public:
  FilterAction on_request(RequestContext& ctx) override;
};

}  // namespace sluice::proxy
