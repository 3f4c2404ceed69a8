// Retry decisions as Istio configures Envoy: retryOn parsing (bare status
// codes included), which outcomes each condition retries, back-off bounds and
// attempt deadlines under the route timeout.
#include <gtest/gtest.h>

#include <random>

#include "retry_policy.h"

using namespace sluice;
using namespace sluice::proxy;
using Kind = AttemptOutcome::Kind;
using namespace std::chrono_literals;

namespace {

AttemptOutcome response(uint16_t status, std::optional<uint32_t> grpc = std::nullopt) {
  AttemptOutcome o;
  o.kind = Kind::kResponse;
  o.status = status;
  o.grpc_status = grpc;
  return o;
}

AttemptOutcome failure(Kind kind, bool request_sent = true) {
  AttemptOutcome o;
  o.kind = kind;
  o.request_sent = request_sent;
  return o;
}

bool retries(std::string_view retry_on, const AttemptOutcome& o) { return should_retry(parse_retry_on(retry_on), o); }

}  // namespace

// --- parsing ------------------------------------------------------------------

TEST(RetryOnParse, AllKnownValues) {
  ParsedRetryOn p = parse_retry_on(
      "5xx,gateway-error,reset,reset-before-request,connect-failure,retriable-4xx,refused-stream,"
      "retriable-status-codes,cancelled,deadline-exceeded,internal,resource-exhausted,unavailable");
  EXPECT_TRUE(p.ignored.empty());
  for (RetryOn f : {kRetryOn5xx, kRetryOnGatewayError, kRetryOnReset, kRetryOnResetBeforeRequest,
                    kRetryOnConnectFailure, kRetryOnRetriable4xx, kRetryOnRefusedStream,
                    kRetryOnRetriableStatusCodes, kRetryOnGrpcCancelled, kRetryOnGrpcDeadlineExceeded,
                    kRetryOnGrpcInternal, kRetryOnGrpcResourceExhausted, kRetryOnGrpcUnavailable}) {
    EXPECT_TRUE(p.has(f)) << f;
  }
}

TEST(RetryOnParse, TrimsAndSkipsEmptyTokens) {
  ParsedRetryOn p = parse_retry_on(" 5xx , ,connect-failure,");
  EXPECT_EQ(p.flags, uint32_t{kRetryOn5xx | kRetryOnConnectFailure});
  EXPECT_TRUE(p.ignored.empty());
}

TEST(RetryOnParse, BareStatusCodesBecomeRetriableStatusCodes) {
  // Istio's parseRetryOn/ConvertPolicy: a valid HTTP status code is moved to
  // RetriableStatusCodes and "retriable-status-codes" is added.
  ParsedRetryOn p = parse_retry_on("connect-failure,503,429");
  EXPECT_TRUE(p.has(kRetryOnRetriableStatusCodes));
  EXPECT_TRUE(p.has(kRetryOnConnectFailure));
  EXPECT_EQ(p.retriable_status_codes, (std::vector<uint16_t>{503, 429}));
  EXPECT_TRUE(p.ignored.empty());
}

TEST(RetryOnParse, UnknownTokensAreIgnoredButReported) {
  // 599 and 999 are not in Go's http.StatusText, so Istio passes them on to
  // Envoy as (unknown) retryOn values.
  ParsedRetryOn p = parse_retry_on("5xx,5XX,gateway_error,599,999,envoy-ratelimited");
  EXPECT_EQ(p.flags, uint32_t{kRetryOn5xx});
  EXPECT_TRUE(p.retriable_status_codes.empty());
  EXPECT_EQ(p.ignored, (std::vector<std::string>{"5XX", "gateway_error", "599", "999", "envoy-ratelimited"}));
}

TEST(RetryOnParse, IstioDefaultPolicyRetries503) {
  config::RetryPolicy def;  // no `retries` in the VirtualService
  ParsedRetryOn p = parse_retry_policy(def);
  EXPECT_EQ(p.flags, uint32_t{kRetryOnConnectFailure | kRetryOnRefusedStream | kRetryOnGrpcUnavailable |
                              kRetryOnGrpcCancelled | kRetryOnRetriableStatusCodes});
  EXPECT_EQ(p.retriable_status_codes, (std::vector<uint16_t>{503}));
  EXPECT_TRUE(should_retry(p, response(503)));
  EXPECT_FALSE(should_retry(p, response(500)));
  EXPECT_FALSE(should_retry(p, response(502)));

  config::RetryPolicy custom;
  custom.retry_on = "retriable-status-codes";
  EXPECT_TRUE(parse_retry_policy(custom).retriable_status_codes.empty());
}

// --- decisions, one retryOn value at a time -------------------------------------

TEST(ShouldRetry, FiveXx) {
  EXPECT_TRUE(retries("5xx", response(500)));
  EXPECT_TRUE(retries("5xx", response(503)));
  EXPECT_TRUE(retries("5xx", response(599)));
  EXPECT_FALSE(retries("5xx", response(404)));
  EXPECT_FALSE(retries("5xx", response(200)));
  // Envoy counts resets and timeouts as 5xx.
  EXPECT_TRUE(retries("5xx", failure(Kind::kReset)));
  EXPECT_TRUE(retries("5xx", failure(Kind::kConnectFailure)));
  EXPECT_TRUE(retries("5xx", failure(Kind::kRefusedStream)));
  EXPECT_TRUE(retries("5xx", failure(Kind::kPerTryTimeout)));
}

TEST(ShouldRetry, GatewayError) {
  EXPECT_TRUE(retries("gateway-error", response(502)));
  EXPECT_TRUE(retries("gateway-error", response(503)));
  EXPECT_TRUE(retries("gateway-error", response(504)));
  EXPECT_FALSE(retries("gateway-error", response(500)));
  EXPECT_FALSE(retries("gateway-error", response(501)));
  EXPECT_TRUE(retries("gateway-error", failure(Kind::kReset)));
  EXPECT_TRUE(retries("gateway-error", failure(Kind::kPerTryTimeout)));
}

TEST(ShouldRetry, Reset) {
  EXPECT_TRUE(retries("reset", failure(Kind::kReset)));
  EXPECT_TRUE(retries("reset", failure(Kind::kConnectFailure)));
  EXPECT_TRUE(retries("reset", failure(Kind::kRefusedStream)));
  EXPECT_TRUE(retries("reset", failure(Kind::kPerTryTimeout)));
  EXPECT_FALSE(retries("reset", response(503)));
}

TEST(ShouldRetry, ResetBeforeRequest) {
  EXPECT_TRUE(retries("reset-before-request", failure(Kind::kReset, /*request_sent=*/false)));
  EXPECT_FALSE(retries("reset-before-request", failure(Kind::kReset, /*request_sent=*/true)));
  EXPECT_TRUE(retries("reset-before-request", failure(Kind::kConnectFailure, /*request_sent=*/true)));
  EXPECT_FALSE(retries("reset-before-request", response(503)));
}

TEST(ShouldRetry, ConnectFailure) {
  EXPECT_TRUE(retries("connect-failure", failure(Kind::kConnectFailure)));
  EXPECT_FALSE(retries("connect-failure", failure(Kind::kReset)));
  EXPECT_FALSE(retries("connect-failure", failure(Kind::kPerTryTimeout)));
  EXPECT_FALSE(retries("connect-failure", failure(Kind::kRefusedStream)));
  EXPECT_FALSE(retries("connect-failure", response(503)));
}

TEST(ShouldRetry, Retriable4xx) {
  EXPECT_TRUE(retries("retriable-4xx", response(409)));
  EXPECT_FALSE(retries("retriable-4xx", response(429)));
  EXPECT_FALSE(retries("retriable-4xx", response(400)));
}

TEST(ShouldRetry, RefusedStream) {
  EXPECT_TRUE(retries("refused-stream", failure(Kind::kRefusedStream)));
  EXPECT_FALSE(retries("refused-stream", failure(Kind::kReset)));
  EXPECT_FALSE(retries("refused-stream", failure(Kind::kConnectFailure)));
}

TEST(ShouldRetry, RetriableStatusCodes) {
  EXPECT_TRUE(retries("retriable-status-codes,429,418", response(429)));
  EXPECT_TRUE(retries("418", response(418)));
  EXPECT_FALSE(retries("429", response(503)));
  EXPECT_FALSE(retries("retriable-status-codes", response(503)));  // no codes listed
  EXPECT_FALSE(retries("429", failure(Kind::kReset)));
}

TEST(ShouldRetry, GrpcStatuses) {
  struct Case {
    const char* token;
    uint32_t code;
  };
  const Case cases[] = {{"cancelled", 1}, {"deadline-exceeded", 4}, {"resource-exhausted", 8},
                        {"internal", 13}, {"unavailable", 14}};
  for (const Case& c : cases) {
    EXPECT_TRUE(retries(c.token, response(200, c.code))) << c.token;
    for (const Case& other : cases) {
      if (other.code != c.code) {
        EXPECT_FALSE(retries(c.token, response(200, other.code))) << c.token;
      }
    }
    EXPECT_FALSE(retries(c.token, response(200, 0u))) << c.token;            // OK
    EXPECT_FALSE(retries(c.token, response(200, 2u))) << c.token;            // UNKNOWN
    EXPECT_FALSE(retries(c.token, response(503))) << c.token;                // no grpc-status
    EXPECT_FALSE(retries(c.token, failure(Kind::kReset))) << c.token;
  }
}

TEST(ShouldRetry, NeverWithoutAReplayableBodyOrOnOverflow) {
  AttemptOutcome o = response(503);
  o.body_buffered = false;
  EXPECT_FALSE(retries("5xx,reset,retriable-status-codes,503", o));
  AttemptOutcome c = failure(Kind::kConnectFailure);
  c.body_buffered = false;
  EXPECT_FALSE(retries("connect-failure", c));
  EXPECT_FALSE(retries("5xx,reset,connect-failure,reset-before-request", failure(Kind::kOverflow, false)));
}

TEST(ShouldRetry, NothingConfigured) {
  EXPECT_FALSE(retries("", response(503)));
  EXPECT_FALSE(retries("", failure(Kind::kConnectFailure)));
}

// --- back-off -------------------------------------------------------------------

TEST(Backoff, FullyJitteredWithinTheDocumentedWindows) {
  // [0, (2^n - 1) x 25 ms), capped at 250 ms.
  const int64_t windows[] = {25, 75, 175, 250, 250, 250};
  std::mt19937_64 rng(7);
  for (uint32_t n = 1; n <= 6; ++n) {
    int64_t lo = 1 << 30, hi = -1;
    for (int i = 0; i < 20000; ++i) {
      const int64_t ms = backoff(n, rng()).count();
      lo = std::min(lo, ms);
      hi = std::max(hi, ms);
    }
    EXPECT_EQ(lo, 0) << n;
    EXPECT_EQ(hi, windows[n - 1] - 1) << n;  // every value in the window is reachable
  }
}

TEST(Backoff, ExactValuesAndLargeRetryNumbers) {
  EXPECT_EQ(backoff(1, 24), 24ms);
  EXPECT_EQ(backoff(1, 25), 0ms);
  EXPECT_EQ(backoff(2, 74), 74ms);
  EXPECT_EQ(backoff(3, 174), 174ms);
  EXPECT_EQ(backoff(4, 249), 249ms);
  EXPECT_EQ(backoff(4, 250), 0ms);
  EXPECT_LT(backoff(1000, ~uint64_t{0}), 250ms);
  EXPECT_LT(backoff(0, 24), 25ms);  // 0 is read as the first retry
}

// --- deadlines ------------------------------------------------------------------

TEST(AttemptDeadline, RouteTimeoutCoversAllAttempts) {
  const RetryClock::time_point t0{};
  config::RetryPolicy p;
  p.attempts = 3;
  p.per_try_timeout_ms = 500;
  const auto route = route_deadline(t0, 1200);
  ASSERT_TRUE(route);
  EXPECT_EQ(*route, t0 + 1200ms);

  EXPECT_EQ(next_attempt_deadline(p, 0, t0, route), t0 + 500ms);               // first try
  EXPECT_EQ(next_attempt_deadline(p, 1, t0 + 520ms, route), t0 + 1020ms);      // first retry
  EXPECT_EQ(next_attempt_deadline(p, 2, t0 + 1040ms, route), t0 + 1200ms);     // cut by the route timeout
  EXPECT_EQ(next_attempt_deadline(p, 3, t0 + 1190ms, route), t0 + 1200ms);     // last retry
  EXPECT_EQ(next_attempt_deadline(p, 4, t0 + 1195ms, route), std::nullopt);   // retries used up
  EXPECT_EQ(next_attempt_deadline(p, 2, t0 + 1200ms, route), std::nullopt);   // route deadline passed
}

TEST(AttemptDeadline, UnboundedAndNoRetries) {
  const RetryClock::time_point t0{};
  config::RetryPolicy p;  // per-try timeout 0: bounded by the route only
  EXPECT_EQ(route_deadline(t0, 0), std::nullopt);  // Istio: no timeout by default
  EXPECT_EQ(next_attempt_deadline(p, 0, t0, std::nullopt), RetryClock::time_point::max());
  EXPECT_EQ(next_attempt_deadline(p, 0, t0, t0 + 2s), t0 + 2s);

  config::RetryPolicy off;
  off.attempts = 0;
  EXPECT_EQ(next_attempt_deadline(off, 0, t0, std::nullopt), RetryClock::time_point::max());
  EXPECT_EQ(next_attempt_deadline(off, 1, t0, std::nullopt), std::nullopt);

  off.per_try_timeout_ms = 100;
  EXPECT_EQ(next_attempt_deadline(off, 0, t0, std::nullopt), t0 + 100ms);
}
