// sluice.io RateLimitPolicy enforced by sluiced's proxy with two workers
// (docs/security.md "Rate limits"): the node's bucket admits its tokens,
// then answers 429 with retry-after and flag RL, then refills. Privileged.
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

}  // namespace
