// Token buckets under simulated time, and RateLimitPolicy matching
// (userspace/policy/token_bucket.h, rate_limits.h).
#include <gtest/gtest.h>

#include <thread>

#include "rate_limits.h"
#include "resource_loader.h"
#include "token_bucket.h"

namespace sluice::policy {
namespace {

using namespace std::chrono_literals;
using Clock = TokenBucket::Clock;

TEST(TokenBucket, StartsFullThenRefillsOnSchedule) {
  const Clock::time_point t0 = Clock::now();
  TokenBucket b(3, 2, 1000ms, t0);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(b.take(t0).ok);
  const auto refused = b.take(t0 + 400ms);
  EXPECT_FALSE(refused.ok);
  EXPECT_EQ(refused.retry_after, 600ms) << "until the next fill";
  EXPECT_TRUE(b.take(t0 + 1000ms).ok);
  EXPECT_TRUE(b.take(t0 + 1000ms).ok);
  EXPECT_FALSE(b.take(t0 + 1999ms).ok) << "a fill adds tokens_per_fill, not more";
  // Ten intervals later the bucket holds max_tokens, no more.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(b.take(t0 + 12s).ok);
  EXPECT_FALSE(b.take(t0 + 12s).ok);
}

TEST(TokenBucket, TheLimitHoldsAcrossThreads) {
  const Clock::time_point t0 = Clock::now();
  TokenBucket b(1000, 1, 1h, t0);
  std::atomic<int> taken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) taken += b.take(t0).ok ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(taken.load(), 1000);
}

std::shared_ptr<const RateLimits> compile(const std::string& yaml, const RateLimits* previous, Clock::time_point now) {
  config::LoadResult loaded;
  config::load_yaml_text(yaml, "rl.yaml", loaded);
  EXPECT_TRUE(loaded.diagnostics.empty()) << loaded.diagnostics.front().to_string();
  return RateLimits::compile(loaded.resources.rate_limit_policies, previous, now);
}

std::string policy(const std::string& extra, int max_tokens = 2) {
  return "apiVersion: sluice.io/v1alpha1\nkind: RateLimitPolicy\nmetadata: {name: rl, namespace: shop}\nspec:\n"
         "  service: reviews\n  tokenBucket: {maxTokens: " + std::to_string(max_tokens) +
         ", tokensPerFill: 1, fillInterval: 1s}\n" + extra;
}

TEST(RateLimits, CountsOnlyTheRouteAndSourceNamespaceNamed) {
  const Clock::time_point t0 = Clock::now();
  auto limits = compile(policy("  route: ratings-route\n  sourceNamespace: web\n"), nullptr, t0);
  RateLimitRequest r{"shop", "reviews", "ratings-route", "web"};
  EXPECT_FALSE(limits->refused(r, t0));
  EXPECT_FALSE(limits->refused(r, t0));
  EXPECT_TRUE(limits->refused(r, t0));
  EXPECT_FALSE(limits->refused({"shop", "reviews", "other-route", "web"}, t0)) << "another route";
  EXPECT_FALSE(limits->refused({"shop", "reviews", "ratings-route", "batch"}, t0)) << "another namespace";
  EXPECT_FALSE(limits->refused({"other", "reviews", "ratings-route", "web"}, t0)) << "another service";
}

TEST(RateLimits, AReloadKeepsAnUnchangedBucket) {
  const Clock::time_point t0 = Clock::now();
  auto first = compile(policy(""), nullptr, t0);
  RateLimitRequest r{"shop", "reviews", "", ""};
  EXPECT_FALSE(first->refused(r, t0));
  EXPECT_FALSE(first->refused(r, t0));
  auto same = compile(policy(""), first.get(), t0);
  EXPECT_TRUE(same->refused(r, t0)) << "the reload refilled the bucket";
  auto bigger = compile(policy("", 5), same.get(), t0);
  EXPECT_FALSE(bigger->refused(r, t0)) << "a changed bucket starts full";
}

}  // namespace
}  // namespace sluice::policy
