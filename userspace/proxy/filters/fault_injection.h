// Istio's HTTP fault injection for one request: a delay and an abort, each
// firing with its own percentage, the delay first. A fault without a
// percentage never fires (Istio's documented behaviour).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "networking.pb.h"

namespace sluice::proxy {

struct FaultDecision {
  std::chrono::milliseconds delay{0};  // 0: none
  unsigned abort_status = 0;           // 0: none
  // abort.grpcStatus: the code, answered in gRPC's trailers-only form (HTTP 200).
  std::optional<uint32_t> abort_grpc_status;
};

// random_delay and random_abort are independent uniform draws in [0, 1).
FaultDecision decide_fault(const istio::networking::HTTPFaultInjection& fault, double random_delay,
                           double random_abort);

}  // namespace sluice::proxy
