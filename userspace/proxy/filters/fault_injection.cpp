#include "fault_injection.h"

#include "grpc_status.h"

namespace sluice::proxy {

namespace {

bool fires(bool has_percentage, double percent, double random) {
  return has_percentage && random * 100.0 < percent;
}

}  // namespace

FaultDecision decide_fault(const istio::networking::HTTPFaultInjection& fault, double random_delay,
                           double random_abort) {
  FaultDecision d;
  if (fault.has_delay() && fault.delay().has_fixed_delay() &&
      fires(fault.delay().has_percentage(), fault.delay().percentage().value(), random_delay)) {
    const auto& fd = fault.delay().fixed_delay();
    d.delay = std::chrono::milliseconds(fd.seconds() * 1000 + fd.nanos() / 1000000);
  }
  using Abort = istio::networking::HTTPFaultInjection::Abort;
  if (fault.has_abort() && fires(fault.abort().has_percentage(), fault.abort().percentage().value(), random_abort)) {
    if (fault.abort().error_type_case() == Abort::kHttpStatus) {
      d.abort_status = static_cast<unsigned>(fault.abort().http_status());
    } else if (fault.abort().error_type_case() == Abort::kGrpcStatus) {
      d.abort_grpc_status = grpc_status_of_name(fault.abort().grpc_status());
      if (d.abort_grpc_status) d.abort_status = 200;
    }
  }
  return d;
}

}  // namespace sluice::proxy
