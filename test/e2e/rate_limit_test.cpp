// sluice.io RateLimitPolicy enforced by sluiced's proxy with two workers
// (docs/security.md "Rate limits"): the node's bucket admits its tokens,
// then answers 429 with retry-after and flag RL, then refills. And Istio's
// local-rate-limit EnvoyFilter, as its task writes it. Privileged.
#include <fstream>
#include <iterator>
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

// Istio's rate-limit task's EnvoyFilter (the fixture), unchanged but for the
// bucket (3 per 4 s) and the workload (reviews instead of productpage).
std::string task_envoy_filter() {
  std::ifstream in(std::string(SLUICE_SOURCE_DIR) + "/test/fixtures/config/istio-tasks/local-rate-limit-envoy-filter.yaml");
  std::string y(std::istreambuf_iterator<char>(in), {});
  for (auto [from, to] : {std::pair{"app: productpage", "app: reviews"}, {"max_tokens: 4", "max_tokens: 3"},
                          {"tokens_per_fill: 4", "tokens_per_fill: 3"}, {"fill_interval: 60s", "fill_interval: 4s"}}) {
    const size_t at = y.find(from);
    if (at == std::string::npos) ADD_FAILURE() << "the fixture has no " << from;
    else y.replace(at, std::string_view(from).size(), to);
  }
  return "---\n" + y;
}

TEST_F(L7Test, IstiosLocalRateLimitEnvoyFilterLimitsEachInstance) {
  // Everything to reviews v1 (one instance): its bucket is the one counted.
  start(bookinfo(route_with("")) + task_envoy_filter());
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
