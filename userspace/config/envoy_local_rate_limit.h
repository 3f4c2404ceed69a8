// The one EnvoyFilter pattern sluice translates: Envoy's local rate limit as
// Istio's rate-limit task writes it (docs/security.md, "Istio's EnvoyFilter").
// An HTTP_FILTER patch that inserts envoy.filters.http.local_ratelimit with a
// token bucket, or an HTTP_ROUTE patch whose typed_per_filter_config holds
// that filter's bucket for one inbound port. Both typed_config forms are
// read: the LocalRateLimit message inline, or wrapped in a TypedStruct
// (udpa.type.v1 or xds.type.v3) under `value`.
//
// Read once here for validation and for the rate limiter
// (policy/rate_limits.h), so both see the same thing.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "networking.pb.h"

namespace sluice::config {

inline constexpr const char* kLocalRateLimitFilter = "envoy.filters.http.local_ratelimit";

struct EnvoyLocalRateLimit {
  std::string path;  // spec.configPatches[i]: where it came from
  // Whose requests: SIDECAR_INBOUND (or ANY), those to the selected
  // workloads; SIDECAR_OUTBOUND, those from them; GATEWAY is not read.
  istio::networking::EnvoyFilter::PatchContext context = istio::networking::EnvoyFilter::ANY;
  uint16_t port = 0;  // the inbound port of the route (vhost "inbound|http|<port>"); 0: any
  uint32_t max_tokens = 0;
  uint32_t tokens_per_fill = 1;
  std::chrono::milliseconds fill_interval{0};
  // Envoy's filter_enabled and filter_enforced (default_value): the share of
  // requests checked, and of the refused ones actually refused. Both default
  // to 0 in Envoy ("for safety"): a filter without them limits nothing.
  double enabled = 0;
  double enforced = 0;
  std::vector<std::pair<std::string, std::string>> response_headers;  // response_headers_to_add
};

struct EnvoyFilterReading {
  std::vector<EnvoyLocalRateLimit> limits;
  // Field path and message: an invalid bucket in the pattern (an error), or
  // a patch that is not the pattern (a warning: not applied).
  std::vector<std::pair<std::string, std::string>> errors;
  std::vector<std::pair<std::string, std::string>> unsupported;
};

EnvoyFilterReading read_envoy_filter(const istio::networking::EnvoyFilter& f);

}  // namespace sluice::config
