// Token buckets under simulated time, RateLimitPolicy matching, and Istio's
// local-rate-limit EnvoyFilter (userspace/policy/token_bucket.h,
// rate_limits.h, envoy_rate_limits.h; config/envoy_local_rate_limit.h).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <thread>

#include "rate_limits.h"
#include "resource_loader.h"
#include "token_bucket.h"
#include "validation_text.h"

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


// Istio's rate-limit task's EnvoyFilter, as written there: the local rate
// limit filter with its bucket (4 per minute) for every productpage instance.
std::string task_filter() {
  std::ifstream in(std::string(SLUICE_SOURCE_DIR) + "/test/fixtures/config/istio-tasks/local-rate-limit-envoy-filter.yaml");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct LoadedFilters {
  config::LoadResult loaded;
  EnvoyRateLimits limits;
};

std::unique_ptr<LoadedFilters> envoy_limits(const std::string& yaml, const EnvoyRateLimits* previous = nullptr) {
  auto out = std::make_unique<LoadedFilters>();
  config::load_yaml_text(yaml, "ef.yaml", out->loaded);
  EXPECT_TRUE(out->loaded.diagnostics.empty()) << out->loaded.diagnostics.front().to_string();
  out->limits = EnvoyRateLimits::compile(out->loaded.resources.envoy_filters, previous);
  return out;
}

TEST(EnvoyRateLimits, TheTasksFilterGivesEachInstanceItsBucket) {
  auto f = envoy_limits(task_filter());
  ASSERT_EQ(f->limits.size(), 1u);
  const config::Labels productpage{{"app", "productpage"}}, other{{"app", "reviews"}};
  EnvoyRateLimitRequest r{"default/productpage-1", "default", &productpage, 9080, 9080, "10.200.1.9", "default",
                          nullptr};
  const Clock::time_point t0 = Clock::now();
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(f->limits.refused(r, t0, {0.5, 0.5})) << i;
  const auto refused = f->limits.refused(r, t0 + 1s, {0.5, 0.5});
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->retry_after, 59s);
  ASSERT_NE(refused->headers, nullptr);
  EXPECT_EQ(*refused->headers, (std::vector<std::pair<std::string, std::string>>{{"x-local-rate-limit", "true"}}));
  EnvoyRateLimitRequest second = r;
  second.dest_pod = "default/productpage-2";
  EXPECT_FALSE(f->limits.refused(second, t0, {0.5, 0.5})) << "another instance has its own bucket";
  EnvoyRateLimitRequest reviews = r;
  reviews.dest_labels = &other;
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(f->limits.refused(reviews, t0, {0.5, 0.5})) << "not selected";
  // A reload with the same filter keeps the buckets: still empty.
  auto again = envoy_limits(task_filter(), &f->limits);
  EXPECT_TRUE(again->limits.refused(r, t0 + 2s, {0.5, 0.5})) << "the reload refilled the bucket";
  EXPECT_FALSE(again->limits.refused(r, t0 + 60s, {0.5, 0.5})) << "refilled after fill_interval";
}

TEST(EnvoyRateLimits, EnabledAndEnforcedShares) {
  std::string half = task_filter();
  // filter_enforced at 50%: a refusal rolled at or above 0.5 only counts.
  const std::string enforced = "runtime_key: local_rate_limit_enforced\n                default_value:\n"
                               "                  numerator: 100";
  const size_t at = half.find(enforced);
  ASSERT_NE(at, std::string::npos);
  half.replace(at, enforced.size(), "runtime_key: local_rate_limit_enforced\n                default_value:\n"
                                    "                  numerator: 50");
  auto f = envoy_limits(half);
  const config::Labels productpage{{"app", "productpage"}};
  EnvoyRateLimitRequest r{"default/p-1", "default", &productpage, 9080, 9080, "", "", nullptr};
  const Clock::time_point t0 = Clock::now();
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(f->limits.refused(r, t0, {0.1, 0.1}));
  EXPECT_FALSE(f->limits.refused(r, t0, {0.1, 0.7})) << "not enforced: counted only";
  EXPECT_TRUE(f->limits.refused(r, t0, {0.1, 0.2}));
}

TEST(EnvoyRateLimits, PerRouteBucketOnOneInboundPort) {
  // The task's second form: the filter without a bucket, and the bucket in
  // the inbound route's typed_per_filter_config for port 9080.
  auto f = envoy_limits(R"(
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: per-route, namespace: default}
spec:
  workloadSelector: {labels: {app: productpage}}
  configPatches:
    - applyTo: HTTP_FILTER
      match: {context: SIDECAR_INBOUND, listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager}}}}
      patch:
        operation: INSERT_BEFORE
        value:
          name: envoy.filters.http.local_ratelimit
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
            stat_prefix: http_local_rate_limiter
    - applyTo: HTTP_ROUTE
      match:
        context: SIDECAR_INBOUND
        routeConfiguration: {vhost: {name: "inbound|http|9080", route: {action: ANY}}}
      patch:
        operation: MERGE
        value:
          typed_per_filter_config:
            envoy.filters.http.local_ratelimit:
              "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
              stat_prefix: http_local_rate_limiter
              tokenBucket: {maxTokens: 1, tokensPerFill: 1, fillInterval: 1s}
              filterEnabled: {runtimeKey: a, defaultValue: {numerator: 100, denominator: HUNDRED}}
              filterEnforced: {runtimeKey: b, defaultValue: {numerator: 100, denominator: HUNDRED}}
)");
  ASSERT_EQ(f->limits.size(), 1u);
  const config::Labels productpage{{"app", "productpage"}};
  EnvoyRateLimitRequest r{"default/p-1", "default", &productpage, 9080, 9080, "", "", nullptr};
  EnvoyRateLimitRequest other_port = r;
  other_port.dest_port = other_port.service_port = 15090;
  const Clock::time_point t0 = Clock::now();
  EXPECT_FALSE(f->limits.refused(r, t0, {0.5, 0.5}));
  EXPECT_TRUE(f->limits.refused(r, t0, {0.5, 0.5}));
  EXPECT_FALSE(f->limits.refused(other_port, t0, {0.5, 0.5}));
  EnvoyRateLimitRequest elsewhere = r;
  elsewhere.dest_ns = "shop";
  EXPECT_FALSE(f->limits.refused(elsewhere, t0, {0.5, 0.5})) << "the filter's namespace only";
}

TEST(EnvoyRateLimits, OtherPatchesWarnAndBadBucketsAreRejected) {
  const std::string other = R"(
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: lua, namespace: default}
spec:
  configPatches:
    - applyTo: HTTP_FILTER
      match: {context: SIDECAR_OUTBOUND}
      patch: {operation: INSERT_BEFORE, value: {name: envoy.filters.http.lua}}
)";
  auto diags = sluice::test::validate_text(other, "lua.yaml");
  ASSERT_EQ(diags.size(), 1u) << sluice::test::all(diags);
  EXPECT_NE(diags[0].to_string().find("not applied"), std::string::npos) << diags[0].to_string();
  EXPECT_EQ(diags[0].severity, config::Severity::kWarning);

  std::string bad = task_filter();
  bad.replace(bad.find("max_tokens: 4"), 13, "max_tokens: 0");
  diags = sluice::test::validate_text(bad, "bad.yaml");
  ASSERT_EQ(diags.size(), 1u) << sluice::test::all(diags);
  EXPECT_EQ(diags[0].severity, config::Severity::kError);
  EXPECT_NE(diags[0].to_string().find("max_tokens"), std::string::npos) << diags[0].to_string();
}

}  // namespace
}  // namespace sluice::policy
