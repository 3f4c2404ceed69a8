// Retry decisions with Istio's (and therefore Envoy's router) semantics:
// which failures a route's `retryOn` retries, how long to back off, and the
// deadline of each attempt under the route timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "route_table.h"

namespace sluice::proxy {

// Envoy's x-envoy-retry-on and x-envoy-retry-grpc-on values, as bits.
enum RetryOn : uint32_t {
  kRetryOn5xx = 1u << 0,                  // "5xx": any 5xx, and any reset/timeout/connect failure
  kRetryOnGatewayError = 1u << 1,         // "gateway-error": 502/503/504, and like 5xx for resets
  kRetryOnReset = 1u << 2,                // "reset": no response at all (reset, timeout, connect failure)
  kRetryOnResetBeforeRequest = 1u << 3,   // "reset-before-request": a reset before any request byte went out
  kRetryOnConnectFailure = 1u << 4,       // "connect-failure"
  kRetryOnRetriable4xx = 1u << 5,         // "retriable-4xx": 409 only
  kRetryOnRefusedStream = 1u << 6,        // "refused-stream": HTTP/2 REFUSED_STREAM
  kRetryOnRetriableStatusCodes = 1u << 7, // "retriable-status-codes": the listed codes
  kRetryOnGrpcCancelled = 1u << 8,        // "cancelled": grpc-status 1
  kRetryOnGrpcDeadlineExceeded = 1u << 9, // "deadline-exceeded": grpc-status 4
  kRetryOnGrpcResourceExhausted = 1u << 10,  // "resource-exhausted": grpc-status 8
  kRetryOnGrpcInternal = 1u << 11,        // "internal": grpc-status 13
  kRetryOnGrpcUnavailable = 1u << 12,     // "unavailable": grpc-status 14
};

struct ParsedRetryOn {
  uint32_t flags = 0;                          // RetryOn bits
  std::vector<uint16_t> retriable_status_codes;  // used with kRetryOnRetriableStatusCodes
  // Tokens sluice does not act on: typos, and Envoy values it does not
  // implement (envoy-ratelimited, retriable-headers, http3-post-connect-failure).
  // Envoy ignores unknown values too; report these as warnings.
  std::vector<std::string> ignored;

  bool has(RetryOn f) const { return (flags & f) != 0; }
  bool operator==(const ParsedRetryOn&) const = default;
};

// Parses a comma-separated retryOn, once per snapshot. Like Istio's
// parseRetryOn: tokens are trimmed, empty ones skipped, and a token that is a
// known HTTP status code (Go's http.StatusText) becomes a retriable status
// code, adding "retriable-status-codes" if it is not already listed.
ParsedRetryOn parse_retry_on(std::string_view retry_on);

// The conditions for a route's resolved policy. When retry_on is Istio's
// default (the route has no `retries`, or no `retryOn`), this includes 503 as
// a retriable status code, as Istio's DefaultPolicy sets
// RetriableStatusCodes = [503] next to "retriable-status-codes".
ParsedRetryOn parse_retry_policy(const config::RetryPolicy& policy);

// How one upstream attempt ended.
struct AttemptOutcome {
  enum class Kind : uint8_t {
    kResponse,        // response headers arrived: see status and grpc_status
    kConnectFailure,  // TCP connect refused, unreachable or timed out (connectTimeout)
    kReset,           // connection reset or closed before the response headers
    kRefusedStream,   // HTTP/2 RST_STREAM / GOAWAY with REFUSED_STREAM
    kPerTryTimeout,   // perTryTimeout elapsed before the response headers
    kOverflow,        // a local circuit breaker refused the attempt: never retried
  };
  Kind kind = Kind::kResponse;
  uint16_t status = 0;  // HTTP status when kind == kResponse
  // grpc-status from the response *headers* (a trailers-only gRPC response).
  // Envoy decides before any byte goes downstream, so a grpc-status that only
  // arrives in trailers is never retried.
  std::optional<uint32_t> grpc_status;
  // Whether any byte of the request reached the upstream ("reset-before-request").
  bool request_sent = true;
  // Whether the whole request body is still held and can be replayed. A body
  // that outgrew the retry buffer is never retried (Envoy's
  // retry_or_shadow_abandoned).
  bool body_buffered = true;
  // A connect failure's transport detail: a TLS handshake's error (Envoy's
  // upstream transport failure reason); empty otherwise.
  std::string failure_reason;
};

// Whether `retry_on` asks for another attempt after `outcome`. The number of
// attempts left and the route deadline are checked separately (see
// next_attempt_deadline).
bool should_retry(const ParsedRetryOn& retry_on, const AttemptOutcome& outcome);

// Back-off before retry number `retry_number` (1 for the first retry), fully
// jittered: uniform in [0, min((2^n - 1) x 25 ms, 250 ms)), drawn from
// `random`. This is the formula of Envoy's router documentation (base 25 ms,
// cap 10 x base): 0-24 ms, then 0-74, 0-174, then 0-249 ms. Envoy's code since
// 2020 (JitteredExponentialBackOffStrategy) doubles the window instead
// ([0, 2^(n-1) x 25 ms): 0-24, 0-49, 0-99, 0-199, 0-249), so the early
// retries here may wait up to about twice as long as a recent Envoy.
inline constexpr std::chrono::milliseconds kRetryBackoffBase{25};
inline constexpr std::chrono::milliseconds kRetryBackoffMax{250};
std::chrono::milliseconds backoff(uint32_t retry_number, uint64_t random);

using RetryClock = std::chrono::steady_clock;

// The deadline of the whole request: `timeout_ms` after `start`, or nullopt
// when the route has no timeout (Istio's default).
std::optional<RetryClock::time_point> route_deadline(RetryClock::time_point start, int64_t timeout_ms);

// The deadline of the next attempt, which starts at `now` (after the
// back-off), or nullopt when there must be no further attempt: the policy's
// retries are used up (`attempts_used` counts the attempts made so far, the
// first one included; policy.attempts counts retries), or the route deadline
// has passed. The route timeout covers all attempts, so the result is the
// earlier of now + perTryTimeout and the route deadline; time_point::max()
// when neither bounds the attempt.
std::optional<RetryClock::time_point> next_attempt_deadline(const config::RetryPolicy& policy,
                                                            uint32_t attempts_used, RetryClock::time_point now,
                                                            std::optional<RetryClock::time_point> route_deadline);

}  // namespace sluice::proxy
