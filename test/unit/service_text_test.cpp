#include "service_text.h"

#include <gtest/gtest.h>

using namespace sluice;

TEST(ServiceText, ParsesEveryField) {
  auto s = parse_service_line(
      "10.96.0.10:53/udp algo=least_request max_conns=7 10.200.1.1:5353@3 10.200.1.2:5353!ejected");
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  EXPECT_EQ(s->vip, 0x0a60000au);
  EXPECT_EQ(s->port, 53);
  EXPECT_EQ(s->proto, 17);
  EXPECT_EQ(s->algo, SL_LB_LEAST_REQUEST);
  EXPECT_EQ(s->max_conns, 7u);
  ASSERT_EQ(s->backends.size(), 2u);
  EXPECT_EQ(s->backends[0].weight, 3u);
  EXPECT_TRUE(s->backends[1].ejected);
}

TEST(ServiceText, RoundTrips) {
  const char* line = "10.96.0.10:80/tcp algo=consistent_hash maglev=251 10.200.1.1:80@2 10.200.1.2:80";
  auto s = parse_service_line(line);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(format_service(*s), line);
  EXPECT_EQ(*parse_service_line(format_service(*s)), *s);
}

TEST(ServiceText, SocketRedirectOptOutRoundTrips) {
  const char* line = "10.96.0.10:80/tcp algo=random l7 noredir 10.200.1.1:80";
  auto s = parse_service_line(line);
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->socket_redirect);
  EXPECT_TRUE(parse_service_line("10.96.0.10:80/tcp 10.200.1.1:80")->socket_redirect);
  EXPECT_EQ(format_service(*s), line);
}

TEST(ServiceText, NamesTheBadToken) {
  auto s = parse_service_line("10.96.0.10:80 algo=fastest");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("fastest"), std::string::npos);
  EXPECT_FALSE(parse_service_line("10.96.0.10:80/sctp").ok());
  EXPECT_FALSE(parse_service_line("10.96.0.10 10.200.1.1:80").ok());
  EXPECT_FALSE(parse_service_line("10.96.0.10:80 10.200.1.1:0").ok());
  EXPECT_FALSE(parse_service_line("").ok());
}
