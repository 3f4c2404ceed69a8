#include "fault_filter.h"

#include "fault_injection.h"

namespace sluice::proxy {

FilterAction FaultFilter::on_request(RequestContext& ctx) {
  FilterAction act;
  const config::HttpRoute* route = ctx.route.route;
  if (!route || !route->spec->has_fault()) return act;
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const FaultDecision f = decide_fault(route->spec->fault(), u(ctx.rng), u(ctx.rng));
  if (f.delay.count() > 0) {
    act.delay = f.delay;
    act.flags.set(telemetry::ResponseFlag::kDelayInjected);
  }
  if (f.abort_status) {
    act.local_status = f.abort_status;
    act.local_body = "fault filter abort\n";
    if (f.abort_grpc_status) {
      act.local_headers = {{"content-type", "application/grpc"}, {"grpc-status", std::to_string(*f.abort_grpc_status)}};
    }
    act.flags.set(telemetry::ResponseFlag::kFaultInjected);
  }
  return act;
}

}  // namespace sluice::proxy
