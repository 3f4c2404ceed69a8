#include "grpc_timeout.h"

#include <algorithm>
#include <charconv>

namespace sluice::proxy {

std::optional<std::chrono::milliseconds> parse_grpc_timeout(std::string_view value) {
  // TimeoutValue is at most 8 digits (the gRPC HTTP/2 protocol spec).
  if (value.size() < 2 || value.size() > 9) return std::nullopt;
  const std::string_view digits = value.substr(0, value.size() - 1);
  uint64_t n = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  using std::chrono::ceil;
  using ms = std::chrono::milliseconds;
  switch (value.back()) {
    case 'H': return std::chrono::duration_cast<ms>(std::chrono::hours(n));
    case 'M': return std::chrono::duration_cast<ms>(std::chrono::minutes(n));
    case 'S': return std::chrono::duration_cast<ms>(std::chrono::seconds(n));
    case 'm': return ms(n);
    case 'u': return ceil<ms>(std::chrono::microseconds(n));
    case 'n': return ceil<ms>(std::chrono::nanoseconds(n));
    default: return std::nullopt;
  }
}

int64_t grpc_request_timeout_ms(int64_t route_timeout_ms, std::optional<std::chrono::milliseconds> header) {
  // A header of 0 means "no deadline" to Envoy as well.
  const int64_t h = header ? header->count() : 0;
  if (h <= 0) return route_timeout_ms;
  if (route_timeout_ms <= 0) return h;
  return std::min(h, route_timeout_ms);
}

}  // namespace sluice::proxy
