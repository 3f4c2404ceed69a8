// The readiness rules of sluiced's /ready (userspace/daemon/readiness.h).
#include <gtest/gtest.h>

#include "readiness.h"

namespace sluice::daemon {
namespace {

ReadinessFacts all_up() {
  ReadinessFacts f;
  f.programs_attached = true;
  f.config_applied = true;
  f.proxy_enabled = true;
  f.proxy_port = 15001;
  f.proxy_accepting = true;
  f.proxy_registered = true;
  f.gateway_wanted = {8080, 8443};
  f.gateway_accepting = {8080, 8443};
  return f;
}

TEST(ReadinessTest, ReadyWhenEverythingIsUp) {
  const Readiness r = assess_readiness(all_up());
  EXPECT_TRUE(r.ready);
  EXPECT_TRUE(r.waiting_for.empty());
}

TEST(ReadinessTest, EachMissingPieceIsNamedInStartOrder) {
  ReadinessFacts f = all_up();
  f.config_applied = false;
  f.proxy_accepting = false;
  f.gateway_accepting = {8080};
  const Readiness r = assess_readiness(f);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.waiting_for, (std::vector<std::string>{"the first config to be applied",
                                                     "the proxy listener on port 15001 to accept",
                                                     "the gateway listener on port 8443 to accept"}));
}

TEST(ReadinessTest, AProxyTheKernelDoesNotRedirectToIsNotReady) {
  ReadinessFacts f = all_up();
  f.proxy_registered = false;
  const Readiness r = assess_readiness(f);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.waiting_for, (std::vector<std::string>{"the kernel to redirect HTTP ports to the proxy on port 15001"}));
}

TEST(ReadinessTest, WithoutAProxyOnlyTheKernelAndConfigCount) {
  ReadinessFacts f;
  f.programs_attached = true;
  f.config_applied = true;
  f.gateway_wanted = {8080};  // no proxy: nothing would listen, nothing to wait for
  EXPECT_TRUE(assess_readiness(f).ready);
  f.programs_attached = false;
  EXPECT_EQ(assess_readiness(f).waiting_for, (std::vector<std::string>{"the kernel programs to be attached"}));
}

// A daemon on its way out is never ready, whatever else holds, and says why.
TEST(ReadinessTest, DrainingOrHandingOverIsNeverReady) {
  for (auto [field, why] : {std::pair{&ReadinessFacts::draining, "nothing: draining before exit"},
                            std::pair{&ReadinessFacts::handing_over, "nothing: handing over to a successor"}}) {
    ReadinessFacts f = all_up();
    f.*field = true;
    const Readiness r = assess_readiness(f);
    EXPECT_FALSE(r.ready);
    EXPECT_EQ(r.waiting_for, (std::vector<std::string>{why}));
  }
}

}  // namespace
}  // namespace sluice::daemon
