// X-Forwarded-For at the Gateway: who the client is behind trusted proxies,
// and the headers passed on.
#include "forwarded_for.h"

#include <gtest/gtest.h>

namespace sluice::proxy {
namespace {

constexpr uint32_t kPeer = 0x0a6ffa02;  // 10.111.250.2

TEST(ForwardedFor, TheClientIsTheNthFromTheRightBehindTrustedProxies) {
  EXPECT_EQ(forwarded_client("203.0.113.7", 0, kPeer), kPeer) << "no trusted proxy: the peer";
  EXPECT_EQ(forwarded_client("203.0.113.7", 1, kPeer), 0xcb007107u);
  EXPECT_EQ(forwarded_client("1.2.3.4, 203.0.113.7 ,198.51.100.9", 2, kPeer), 0xcb007107u);
  EXPECT_EQ(forwarded_client("203.0.113.7", 2, kPeer), kPeer) << "fewer entries than trusted proxies";
  EXPECT_EQ(forwarded_client("", 1, kPeer), kPeer);
  EXPECT_EQ(forwarded_client("not-an-address", 1, kPeer), kPeer);
  EXPECT_EQ(forwarded_client("2001:db8::1", 1, kPeer), kPeer);
  EXPECT_EQ(forwarded_client(",,,", 1, kPeer), kPeer);
}

TEST(ForwardedFor, ThePeerIsAppendedAndTheSchemeSet) {
  Request req;
  req.insert("x-forwarded-for", "1.2.3.4");
  req.insert("x-forwarded-for", "203.0.113.7");
  req.set("x-forwarded-proto", "https");
  std::string joined = joined_forwarded_for(req);
  EXPECT_EQ(joined, "1.2.3.4,203.0.113.7");
  add_forwarded_headers(req, joined, kPeer, "http", 0);
  EXPECT_EQ(req["x-forwarded-for"], "1.2.3.4,203.0.113.7,10.111.250.2");
  EXPECT_EQ(req.count("x-forwarded-for"), 1u);
  EXPECT_EQ(req["x-forwarded-proto"], "http") << "an untrusted client's claim is replaced";

  Request behind_lb;
  behind_lb.set("x-forwarded-proto", "https");
  add_forwarded_headers(behind_lb, joined_forwarded_for(behind_lb), kPeer, "http", 1);
  EXPECT_EQ(behind_lb["x-forwarded-for"], "10.111.250.2");
  EXPECT_EQ(behind_lb["x-forwarded-proto"], "https") << "the trusted load balancer saw TLS";
}

}  // namespace
}  // namespace sluice::proxy
