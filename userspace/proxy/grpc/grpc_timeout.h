// The grpc-timeout request header (gRPC over HTTP/2: 1 to 8 digits and a
// unit, H M S m u n) and the timeout it gives a request. Istio sets Envoy's
// max_grpc_timeout to the route's timeout (0, no cap, when the route has
// none), so for a gRPC request Envoy's router uses the grpc-timeout,
// capped by the route timeout: min of the two, whichever are set.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice::proxy {

// The header's timeout; nullopt when it is malformed (then ignored, as in
// Envoy). Sub-millisecond values round up, so they never mean "none".
std::optional<std::chrono::milliseconds> parse_grpc_timeout(std::string_view value);

// The timeout of a gRPC request in ms (0: none) from the route's
// (`route_timeout_ms`, 0: none) and the header's.
int64_t grpc_request_timeout_ms(int64_t route_timeout_ms, std::optional<std::chrono::milliseconds> header);

}  // namespace sluice::proxy
