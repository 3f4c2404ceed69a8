// Envoy's response flags: why a request ended the way it did, beyond its
// status. A typed set, so code says `flags.set(ResponseFlag::kUpstreamOverflow)`
// rather than building "UO" strings, and the short names Envoy prints (and
// Istio's metrics label `response_flags` carries) live in one table.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::telemetry {

// In Envoy's order (envoy/stream_info/stream_info.h, ResponseFlag), which is
// also the order the names are printed in.
enum class ResponseFlag : uint8_t {
  kFailedLocalHealthCheck,     // LH
  kNoHealthyUpstream,          // UH
  kUpstreamRequestTimeout,     // UT
  kLocalReset,                 // LR
  kUpstreamConnectionFailure,  // UF
  kUpstreamConnectionTermination,  // UC
  kUpstreamOverflow,           // UO
  kNoRouteFound,               // NR
  kDelayInjected,              // DI
  kFaultInjected,              // FI
  kRateLimited,                // RL
  kUnauthorizedExternalService,  // UAEX
  kRateLimitServiceError,      // RLSE
  kDownstreamConnectionTermination,  // DC
  kUpstreamRetryLimitExceeded,  // URX
  kStreamIdleTimeout,          // SI
  kInvalidEnvoyRequestHeaders,  // IH
  kDownstreamProtocolError,    // DPE
  kUpstreamMaxStreamDurationReached,  // UMSDR
  kResponseFromCacheFilter,    // RFCF
  kNoFilterConfigFound,        // NFCF
  kDurationTimeout,            // DT
  kUpstreamProtocolError,      // UPE
  kNoClusterFound,             // NC
  kOverloadManager,            // OM
  kDnsResolutionFailed,        // DF
  kRbacAccessDenied,           // RBAC (Envoy's name for an authorization denial in access logs)
  kCount
};

std::string_view response_flag_name(ResponseFlag f);

class ResponseFlags {
 public:
  ResponseFlags() = default;
  ResponseFlags(ResponseFlag f) { set(f); }  // NOLINT: a single flag is a set

  ResponseFlags& set(ResponseFlag f) {
    bits_ |= bit(f);
    return *this;
  }
  ResponseFlags& merge(ResponseFlags o) {
    bits_ |= o.bits_;
    return *this;
  }
  bool has(ResponseFlag f) const { return bits_ & bit(f); }
  bool empty() const { return bits_ == 0; }
  void clear() { bits_ = 0; }
  bool operator==(const ResponseFlags&) const = default;

  // The set as a number, so a metric's label set can hold it cheaply.
  uint32_t bits() const { return bits_; }
  static ResponseFlags from_bits(uint32_t bits) {
    ResponseFlags f;
    f.bits_ = bits;
    return f;
  }

  // "UF,URX": the names in Envoy's order, comma-separated; "-" when empty
  // (Envoy's access-log placeholder).
  std::string str() const;

 private:
  static constexpr uint32_t bit(ResponseFlag f) { return uint32_t{1} << static_cast<unsigned>(f); }
  uint32_t bits_ = 0;
};
static_assert(static_cast<unsigned>(ResponseFlag::kCount) <= 32);

}  // namespace sluice::telemetry
