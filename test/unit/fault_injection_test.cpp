#include "fault_injection.h"

#include <gtest/gtest.h>

using sluice::proxy::decide_fault;
namespace net = sluice::istio::networking;

namespace {

net::HTTPFaultInjection fault(double delay_pct, double abort_pct, bool with_pct = true) {
  net::HTTPFaultInjection f;
  f.mutable_delay()->mutable_fixed_delay()->set_seconds(2);
  if (with_pct) f.mutable_delay()->mutable_percentage()->set_value(delay_pct);
  f.mutable_abort()->set_http_status(500);
  if (with_pct) f.mutable_abort()->mutable_percentage()->set_value(abort_pct);
  return f;
}

}  // namespace

TEST(FaultInjection, FiresByPercentage) {
  auto f = fault(100, 50);
  EXPECT_EQ(decide_fault(f, 0.99, 0.49).delay.count(), 2000);
  EXPECT_EQ(decide_fault(f, 0.99, 0.49).abort_status, 500u);
  EXPECT_EQ(decide_fault(f, 0.0, 0.5).abort_status, 0u);
}

TEST(FaultInjection, WithoutAPercentageNeverFires) {
  auto f = fault(0, 0, /*with_pct=*/false);
  EXPECT_EQ(decide_fault(f, 0.0, 0.0).delay.count(), 0);
  EXPECT_EQ(decide_fault(f, 0.0, 0.0).abort_status, 0u);
}

TEST(FaultInjection, ZeroPercentNeverFires) {
  auto f = fault(0, 0);
  EXPECT_EQ(decide_fault(f, 0.0, 0.0).abort_status, 0u);
  EXPECT_EQ(decide_fault(f, 0.0, 0.0).delay.count(), 0);
}

TEST(FaultInjection, AbortShareIsHonoured) {
  auto f = fault(0, 50);
  int aborted = 0;
  for (int i = 0; i < 1000; ++i) aborted += decide_fault(f, 0.5, i / 1000.0).abort_status != 0;
  EXPECT_EQ(aborted, 500);
}

TEST(FaultInjection, GrpcStatusAbortIsAnHttp200WithTheCode) {
  net::HTTPFaultInjection f;
  f.mutable_abort()->set_grpc_status("UNAVAILABLE");
  f.mutable_abort()->mutable_percentage()->set_value(100);
  const auto d = decide_fault(f, 0.0, 0.0);
  EXPECT_EQ(d.abort_status, 200u);
  EXPECT_EQ(d.abort_grpc_status, 14u);
  f.mutable_abort()->set_grpc_status("NOT_A_STATUS");  // validation rejects it; never fires here
  EXPECT_EQ(decide_fault(f, 0.0, 0.0).abort_status, 0u);
}
