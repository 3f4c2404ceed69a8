// sluice.io RateLimitPolicy enforced by sluiced's proxy with two workers
// (docs/security.md "Rate limits"): the node's bucket admits its tokens,
// then answers 429 with retry-after and flag RL, then refills. And Istio's
// local-rate-limit EnvoyFilter, as its task writes it. Privileged.
#include <thread>

#include "daemon_admin.h"
#include "l7_fixture.h"

using namespace std::chrono_literals;
using namespace sluice::test;

namespace {

constexpr const char* kFivePerFourSeconds = R"(---
apiVersion: sluice.io/v1alpha1
kind: RateLimitPolicy
metadata: {name: reviews, namespace: default}
spec:
  service: reviews
  tokenBucket: {maxTokens: 5, tokensPerFill: 5, fillInterval: 4s}
)";

TEST_F(L7Test, RateLimitPolicyBucketIsTheNodesAcrossWorkers) {
  start(bookinfo(route_with("", kAllPods)) + kFivePerFourSeconds);
  // wait_ready_and_proxying took one token or more: start from a full bucket.
  std::this_thread::sleep_for(4100ms);
  // Each request on a connection of its own: the kernel spreads them over
  // both workers' listeners, so a per-worker bucket would admit ten.
  int ok = 0, limited = 0;
  HttpReply last_limited;
  for (int i = 0; i < 8; ++i) {
    const HttpReply r = get("/reviews/1");
    if (r.status == 200) ++ok;
    if (r.status == 429) {
      ++limited;
      last_limited = r;
    }
  }
  EXPECT_EQ(ok, 5);
  EXPECT_EQ(limited, 3);
  EXPECT_EQ(last_limited.body, "local_rate_limited");
  const std::string retry_after = last_limited.headers["retry-after"];
  EXPECT_TRUE(retry_after == "1" || retry_after == "2" || retry_after == "3" || retry_after == "4") << retry_after;
  EXPECT_TRUE(log_has("\"flags\":\"RL\"")) << log();
  // The next fill gives five more.
  std::this_thread::sleep_for(4100ms);
  EXPECT_EQ(get("/reviews/1").status, 200u);
}

// Istio's rate-limit task's EnvoyFilter, unchanged but for the bucket (3
// per 4 s) and the workload (reviews instead of productpage).
constexpr const char* kTaskEnvoyFilter = R"(---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: filter-local-ratelimit-svc, namespace: istio-system}
spec:
  workloadSelector:
    labels:
      app: reviews
  configPatches:
    - applyTo: HTTP_FILTER
      match:
        context: SIDECAR_INBOUND
        listener:
          filterChain:
            filter:
              name: "envoy.filters.network.http_connection_manager"
      patch:
        operation: INSERT_BEFORE
        value:
          name: envoy.filters.http.local_ratelimit
          typed_config:
            "@type": type.googleapis.com/udpa.type.v1.TypedStruct
            type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
            value:
              stat_prefix: http_local_rate_limiter
              token_bucket:
                max_tokens: 3
                tokens_per_fill: 3
                fill_interval: 4s
              filter_enabled:
                runtime_key: local_rate_limit_enabled
                default_value:
                  numerator: 100
                  denominator: HUNDRED
              filter_enforced:
                runtime_key: local_rate_limit_enforced
                default_value:
                  numerator: 100
                  denominator: HUNDRED
              response_headers_to_add:
                - append: false
                  header:
                    key: x-local-rate-limit
                    value: 'true'
)";

TEST_F(L7Test, IstiosLocalRateLimitEnvoyFilterLimitsEachInstance) {
  // Everything to reviews v1 (one instance): its bucket is the one counted.
  start(bookinfo(route_with("")) + kTaskEnvoyFilter);
  std::this_thread::sleep_for(4100ms);  // a full bucket after the readiness probes
  int ok = 0, limited = 0;
  HttpReply last_limited;
  for (int i = 0; i < 5; ++i) {
    const HttpReply r = get("/reviews/1");
    if (r.status == 200) ++ok;
    if (r.status == 429) {
      ++limited;
      last_limited = r;
    }
  }
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(limited, 2);
  EXPECT_EQ(last_limited.body, "local_rate_limited");
  EXPECT_EQ(last_limited.headers["x-local-rate-limit"], "true") << "response_headers_to_add";
  EXPECT_EQ(last_limited.headers["x-envoy-ratelimited"], "true");
  EXPECT_TRUE(log_has("\"flags\":\"RL\"")) << log();
  std::this_thread::sleep_for(4100ms);
  EXPECT_EQ(get("/reviews/1").status, 200u) << "refilled";
}

}  // namespace
