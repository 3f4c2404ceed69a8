#include "retry_policy.h"

#include <algorithm>
#include <array>
#include <utility>

#include "trim.h"

namespace sluice::proxy {

namespace {

constexpr std::array<std::pair<std::string_view, RetryOn>, 13> kTokens{{
    {"5xx", kRetryOn5xx},
    {"gateway-error", kRetryOnGatewayError},
    {"reset", kRetryOnReset},
    {"reset-before-request", kRetryOnResetBeforeRequest},
    {"connect-failure", kRetryOnConnectFailure},
    {"retriable-4xx", kRetryOnRetriable4xx},
    {"refused-stream", kRetryOnRefusedStream},
    {"retriable-status-codes", kRetryOnRetriableStatusCodes},
    {"cancelled", kRetryOnGrpcCancelled},
    {"deadline-exceeded", kRetryOnGrpcDeadlineExceeded},
    {"resource-exhausted", kRetryOnGrpcResourceExhausted},
    {"internal", kRetryOnGrpcInternal},
    {"unavailable", kRetryOnGrpcUnavailable},
}};

// gRPC status codes (grpc/doc/statuscodes.md).
constexpr uint32_t kGrpcCancelled = 1;
constexpr uint32_t kGrpcDeadlineExceeded = 4;
constexpr uint32_t kGrpcResourceExhausted = 8;
constexpr uint32_t kGrpcInternal = 13;
constexpr uint32_t kGrpcUnavailable = 14;

// The codes for which Go's http.StatusText is non-empty: Istio's test for
// "this retryOn token is a status code".
bool is_known_http_status(int code) {
  switch (code) {
    case 100: case 101: case 102: case 103:
    case 200: case 201: case 202: case 203: case 204: case 205: case 206: case 207: case 208: case 226:
    case 300: case 301: case 302: case 303: case 304: case 305: case 307: case 308:
    case 421: case 422: case 423: case 424: case 425: case 426: case 428: case 429: case 431: case 451:
    case 500: case 501: case 502: case 503: case 504: case 505: case 506: case 507: case 508: case 510: case 511:
      return true;
    default:
      return code >= 400 && code <= 418;
  }
}


std::optional<int> as_status_code(std::string_view token) {
  if (token.empty() || token.size() > 9) return std::nullopt;  // strconv.Atoi allows leading zeros
  int v = 0;
  for (char c : token) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (!is_known_http_status(v)) return std::nullopt;
  return v;
}

bool is_5xx(uint16_t status) { return status >= 500 && status <= 599; }
bool is_gateway_error(uint16_t status) { return status == 502 || status == 503 || status == 504; }

// Envoy's RetryStateImpl::wouldRetryFromHeaders.
bool retry_from_response(const ParsedRetryOn& r, const AttemptOutcome& o) {
  if (r.has(kRetryOn5xx) && is_5xx(o.status)) return true;
  if (r.has(kRetryOnGatewayError) && is_gateway_error(o.status)) return true;
  if (r.has(kRetryOnRetriable4xx) && o.status == 409) return true;
  if (r.has(kRetryOnRetriableStatusCodes) &&
      std::find(r.retriable_status_codes.begin(), r.retriable_status_codes.end(), o.status) !=
          r.retriable_status_codes.end()) {
    return true;
  }
  if (o.grpc_status) {
    switch (*o.grpc_status) {
      case kGrpcCancelled: return r.has(kRetryOnGrpcCancelled);
      case kGrpcDeadlineExceeded: return r.has(kRetryOnGrpcDeadlineExceeded);
      case kGrpcResourceExhausted: return r.has(kRetryOnGrpcResourceExhausted);
      case kGrpcInternal: return r.has(kRetryOnGrpcInternal);
      case kGrpcUnavailable: return r.has(kRetryOnGrpcUnavailable);
      default: return false;
    }
  }
  return false;
}

// Envoy's RetryStateImpl::wouldRetryFromReset. A per-try timeout is a local
// reset there (Router::Filter::onPerTryTimeoutCommon), so it is retried by
// 5xx, gateway-error and reset only.
bool retry_from_reset(const ParsedRetryOn& r, const AttemptOutcome& o) {
  const bool connect_failure = o.kind == AttemptOutcome::Kind::kConnectFailure;
  if (connect_failure && r.has(kRetryOnConnectFailure)) return true;
  const bool request_started = o.request_sent && !connect_failure;
  if (r.has(kRetryOnResetBeforeRequest) && !request_started) return true;
  if (r.has(kRetryOnReset)) return true;
  if (r.has(kRetryOn5xx) || r.has(kRetryOnGatewayError)) return true;
  return r.has(kRetryOnRefusedStream) && o.kind == AttemptOutcome::Kind::kRefusedStream;
}

}  // namespace

ParsedRetryOn parse_retry_on(std::string_view retry_on) {
  ParsedRetryOn out;
  while (!retry_on.empty()) {
    const size_t comma = retry_on.find(',');
    const std::string_view token = trim(retry_on.substr(0, comma));
    retry_on = comma == std::string_view::npos ? std::string_view{} : retry_on.substr(comma + 1);
    if (token.empty()) continue;
    if (const auto code = as_status_code(token)) {
      const auto c = static_cast<uint16_t>(*code);
      if (std::find(out.retriable_status_codes.begin(), out.retriable_status_codes.end(), c) ==
          out.retriable_status_codes.end()) {
        out.retriable_status_codes.push_back(c);
      }
      continue;
    }
    auto it = std::find_if(kTokens.begin(), kTokens.end(), [&](const auto& t) { return t.first == token; });
    if (it == kTokens.end()) {
      out.ignored.emplace_back(token);
    } else {
      out.flags |= it->second;
    }
  }
  // Istio's ConvertPolicy: bare codes imply "retriable-status-codes".
  if (!out.retriable_status_codes.empty()) out.flags |= kRetryOnRetriableStatusCodes;
  return out;
}

ParsedRetryOn parse_retry_policy(const config::RetryPolicy& policy) {
  ParsedRetryOn out = parse_retry_on(policy.retry_on);
  if (policy.retry_on == config::kDefaultRetryOn && out.retriable_status_codes.empty()) {
    out.retriable_status_codes.push_back(503);
  }
  return out;
}

bool should_retry(const ParsedRetryOn& retry_on, const AttemptOutcome& outcome) {
  if (!outcome.body_buffered) return false;
  switch (outcome.kind) {
    case AttemptOutcome::Kind::kResponse: return retry_from_response(retry_on, outcome);
    case AttemptOutcome::Kind::kOverflow: return false;
    case AttemptOutcome::Kind::kConnectFailure:
    case AttemptOutcome::Kind::kReset:
    case AttemptOutcome::Kind::kRefusedStream:
    case AttemptOutcome::Kind::kPerTryTimeout: return retry_from_reset(retry_on, outcome);
  }
  return false;
}

std::chrono::milliseconds backoff(uint32_t retry_number, uint64_t random) {
  const uint32_t n = std::max<uint32_t>(retry_number, 1);
  // (2^n - 1) x base passes the cap from n = 4 on; stop doubling there so
  // that large n cannot overflow.
  uint64_t window = static_cast<uint64_t>(kRetryBackoffMax.count());
  if (n < 8) {
    window = std::min<uint64_t>(((uint64_t{1} << n) - 1) * static_cast<uint64_t>(kRetryBackoffBase.count()), window);
  }
  return std::chrono::milliseconds(static_cast<int64_t>(random % window));
}

std::optional<RetryClock::time_point> route_deadline(RetryClock::time_point start, int64_t timeout_ms) {
  if (timeout_ms <= 0) return std::nullopt;
  return start + std::chrono::milliseconds(timeout_ms);
}

std::optional<RetryClock::time_point> next_attempt_deadline(const config::RetryPolicy& policy,
                                                            uint32_t attempts_used, RetryClock::time_point now,
                                                            std::optional<RetryClock::time_point> route_deadline) {
  if (static_cast<uint64_t>(attempts_used) > static_cast<uint64_t>(policy.attempts)) return std::nullopt;
  if (route_deadline && now >= *route_deadline) return std::nullopt;
  RetryClock::time_point deadline = RetryClock::time_point::max();
  if (policy.per_try_timeout_ms > 0) deadline = now + std::chrono::milliseconds(policy.per_try_timeout_ms);
  if (route_deadline) deadline = std::min(deadline, *route_deadline);
  return deadline;
}

}  // namespace sluice::proxy
