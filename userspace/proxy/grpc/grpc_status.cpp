#include "grpc_status.h"

#include <charconv>

namespace sluice::proxy {

bool is_grpc_content_type(std::string_view content_type) {
  constexpr std::string_view kGrpc = "application/grpc";
  if (!content_type.starts_with(kGrpc)) return false;
  // "application/grpc-web" is gRPC-Web, which a proxy must translate; only
  // "application/grpc" itself or with a "+codec" or ";params" suffix is gRPC.
  return content_type.size() == kGrpc.size() || content_type[kGrpc.size()] == '+' ||
         content_type[kGrpc.size()] == ';';
}

uint32_t grpc_status_of_http(unsigned http_status) {
  switch (http_status) {
    case 400: return kGrpcInternal;
    case 401: return 16;  // UNAUTHENTICATED
    case 403: return 7;   // PERMISSION_DENIED
    case 404: return 12;  // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504: return kGrpcUnavailable;
    default: return kGrpcUnknown;
  }
}

unsigned http_status_of_grpc(uint32_t grpc_status) {
  static constexpr unsigned kHttp[] = {
      200,  // 0 OK
      499,  // 1 CANCELLED: client closed request
      500,  // 2 UNKNOWN
      400,  // 3 INVALID_ARGUMENT
      504,  // 4 DEADLINE_EXCEEDED
      404,  // 5 NOT_FOUND
      409,  // 6 ALREADY_EXISTS
      403,  // 7 PERMISSION_DENIED
      429,  // 8 RESOURCE_EXHAUSTED
      400,  // 9 FAILED_PRECONDITION
      409,  // 10 ABORTED
      400,  // 11 OUT_OF_RANGE
      501,  // 12 UNIMPLEMENTED
      500,  // 13 INTERNAL
      503,  // 14 UNAVAILABLE
      500,  // 15 DATA_LOSS
      401,  // 16 UNAUTHENTICATED
  };
  return grpc_status < std::size(kHttp) ? kHttp[grpc_status] : 500;
}

std::optional<uint32_t> grpc_status_of_name(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "OK",        "CANCELLED",          "UNKNOWN",      "INVALID_ARGUMENT",    "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
      "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
  for (uint32_t code = 0; code < std::size(kNames); ++code) {
    if (kNames[code] == name) return code;
  }
  return std::nullopt;
}

std::optional<uint32_t> parse_grpc_status(std::string_view value) {
  uint32_t v = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || end != value.data() + value.size() || value.empty()) return std::nullopt;
  return v;
}

}  // namespace sluice::proxy
