// gRPC's status codes against HTTP status codes, as Envoy maps them
// (Grpc::Utility, after grpc's doc/http-grpc-status-mapping.md): a local
// reply to a gRPC client carries the grpc-status of its HTTP status, and
// outlier detection counts a grpc-status in response headers as the HTTP
// status it maps to.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice::proxy {

inline constexpr uint32_t kGrpcOk = 0;
inline constexpr uint32_t kGrpcUnknown = 2;
inline constexpr uint32_t kGrpcDeadlineExceeded = 4;
inline constexpr uint32_t kGrpcInternal = 13;
inline constexpr uint32_t kGrpcUnavailable = 14;

// A gRPC request: its content-type is application/grpc, or application/grpc+proto
// and the like (Envoy's Grpc::Common::isGrpcRequestHeaders).
bool is_grpc_content_type(std::string_view content_type);

// The grpc-status of a local reply with this HTTP status.
uint32_t grpc_status_of_http(unsigned http_status);
// The HTTP status a grpc-status counts as (outlier detection).
unsigned http_status_of_grpc(uint32_t grpc_status);
// The code of a status name as Istio's abort.grpcStatus writes it
// ("UNAVAILABLE"), else nullopt.
std::optional<uint32_t> grpc_status_of_name(std::string_view name);
// A grpc-status field's value: digits only, else nullopt.
std::optional<uint32_t> parse_grpc_status(std::string_view value);

}  // namespace sluice::proxy
