// Envoy's response flags: names from the one table, printed in Envoy's order.
#include <gtest/gtest.h>

#include <set>

#include "response_flags.h"

namespace sluice::telemetry {
namespace {

TEST(ResponseFlags, EmptyPrintsEnvoysPlaceholder) { EXPECT_EQ(ResponseFlags().str(), "-"); }

TEST(ResponseFlags, NamesFollowEnvoysOrderWhateverTheOrderTheyWereSet) {
  ResponseFlags f;
  f.set(ResponseFlag::kUpstreamRetryLimitExceeded).set(ResponseFlag::kUpstreamConnectionFailure);
  EXPECT_EQ(f.str(), "UF,URX");
  ResponseFlags g(ResponseFlag::kDownstreamConnectionTermination);
  g.merge(ResponseFlag::kDelayInjected);
  EXPECT_EQ(g.str(), "DI,DC");
  EXPECT_TRUE(g.has(ResponseFlag::kDelayInjected));
  EXPECT_FALSE(g.has(ResponseFlag::kFaultInjected));
}

TEST(ResponseFlags, EveryFlagHasADistinctShortName) {
  std::set<std::string_view> names;
  for (unsigned i = 0; i < static_cast<unsigned>(ResponseFlag::kCount); ++i) {
    const std::string_view n = response_flag_name(static_cast<ResponseFlag>(i));
    EXPECT_FALSE(n.empty());
    EXPECT_NE(n, "?");
    EXPECT_TRUE(names.insert(n).second) << n;
  }
  EXPECT_EQ(response_flag_name(ResponseFlag::kNoRouteFound), "NR");
  EXPECT_EQ(response_flag_name(ResponseFlag::kUpstreamOverflow), "UO");
  EXPECT_EQ(response_flag_name(ResponseFlag::kRbacAccessDenied), "RBAC");
}

}  // namespace
}  // namespace sluice::telemetry
