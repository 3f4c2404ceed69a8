// The per-request split of an attempt's time into the network's part and
// the application's (telemetry/socket_rtt.h), and TCP_INFO on a real
// loopback connection.
#include "socket_rtt.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sluice::telemetry {
namespace {

TEST(SocketRtt, TheNetworksShareIsOneRoundTripOrTwoForANewConnection) {
  const SocketRtt rtt{.srtt_us = 300};
  EXPECT_EQ(network_share_us(rtt, false, 10'000), 300u);
  EXPECT_EQ(network_share_us(rtt, true, 10'000), 600u) << "the handshake's round trip too";
  EXPECT_EQ(network_share_us(rtt, true, 450), 450u) << "never more than the attempt took";
  EXPECT_EQ(network_share_us(SocketRtt{}, false, 10'000), 0u);
}

TEST(SocketRtt, ReadsAConnectedSocketAndRefusesWhatIsNone) {
  EXPECT_FALSE(socket_rtt(-1));
  const int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(udp, 0);
  EXPECT_FALSE(socket_rtt(udp)) << "not TCP";
  close(udp);

  const int lsn = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(lsn, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(lsn, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(lsn, 1), 0);
  socklen_t len = sizeof(a);
  ASSERT_EQ(getsockname(lsn, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  const auto rtt = socket_rtt(c);
  ASSERT_TRUE(rtt);
  EXPECT_GT(rtt->srtt_us, 0u) << "the handshake gave the kernel its first sample";
  EXPECT_EQ(rtt->retransmits, 0u);
  close(c);
  close(lsn);
}

}  // namespace
}  // namespace sluice::telemetry
