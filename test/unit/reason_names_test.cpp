// The printed names of the kernel's reasons and counters (maps/reason_names.h):
// sluicectl dump, the admin API and the e2e tests read them, so they are
// pinned here exactly as every earlier release printed them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "reason_names.h"

namespace {

template <class F>
std::vector<std::string> names(F name_of, unsigned count) {
  std::vector<std::string> out;
  for (unsigned i = 0; i < count; ++i) out.emplace_back(name_of(i));
  return out;
}

}  // namespace

TEST(ReasonNames, SocketVerdicts) {
  EXPECT_EQ(names(sl_reason_name, SL_R__COUNT),
            (std::vector<std::string>{"connect_pass_unknown", "connect_balanced",   "connect_cb_refused",
                                      "connect_no_backend",   "connect_panic",      "connect_map_error",
                                      "sendmsg_pass_unknown", "sendmsg_balanced",   "sendmsg_sticky",
                                      "sendmsg_no_backend",   "recvmsg_reversed",   "recvmsg_pass",
                                      "getpeer_reversed",     "getpeer_pass",       "sockops_counted",
                                      "sockops_released",     "sockops_floor",      "sock_storage_full",
                                      "connect_redirected",   "connect_proxy_down", "connect_bypass",
                                      "orig_dst_recorded",    "spread_assigned",    "spread_no_proxy",
                                      "spread_assign_failed", "connect_fail_closed", "connect_egress_blocked",
                                      "connect_policy_denied", "connect_rate_limited",
                                      "ingress_policy_denied"}));
  EXPECT_STREQ(sl_reason_name(SL_R__COUNT), "unknown");
  EXPECT_STREQ(sl_reason_name(SL_R_CONNECT_REDIRECTED), "connect_redirected");
}

TEST(ReasonNames, XdpVerdictsAndDrops) {
  EXPECT_EQ(names(sl_xreason_name, SL_XR__COUNT),
            (std::vector<std::string>{"pass_not_ipv4",    "pass_not_vip",     "pass_fragment",  "pass_ip_options",
                                      "pass_malformed",   "pass_other_proto", "dnat_new",       "dnat_tracked",
                                      "drop_src_range",   "drop_no_backend",  "ct_full",        "icmp_translated",
                                      "icmp_pass",        "tc_reversed",      "tc_pass",        "tc_malformed",
                                      "tc_icmp_reversed", "fib_redirect",     "fib_pass",       "ct_readmitted",
                                      "tx_unlisted"}));
  EXPECT_STREQ(sl_xreason_name(SL_XR__COUNT), "unknown");
  EXPECT_EQ(names(sl_xdrop_name, SL_XDROP__COUNT), (std::vector<std::string>{"src_range", "no_backend"}));
  EXPECT_STREQ(sl_xdrop_name(SL_XDROP__COUNT), "unknown");
}

TEST(ReasonNames, SocketRedirection) {
  EXPECT_EQ(names(sl_redir_stat_name, SL_RS__COUNT),
            (std::vector<std::string>{"inserted", "removed", "full", "insert_error", "not_local", "opted_out",
                                      "not_service", "msg_redirected", "bytes_redirected", "msg_miss", "bytes_miss",
                                      "msg_bulk", "bytes_bulk", "not_proxy"}));
  EXPECT_STREQ(sl_redir_stat_name(SL_RS__COUNT), "?");
  EXPECT_STREQ(sl_redir_mode_name(SL_REDIR_OFF), "off");
  EXPECT_STREQ(sl_redir_mode_name(SL_REDIR_ON), "on");
  EXPECT_STREQ(sl_redir_mode_name(SL_REDIR_AUTO), "auto");
  EXPECT_STREQ(sl_redir_mode_name(SL_REDIR_PROXY), "proxy");
  EXPECT_STREQ(sl_redir_mode_name(4), "?");
}
