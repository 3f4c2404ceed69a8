// The hand-over exchange of a hitless upgrade (userspace/daemon/handover.h):
// a predecessor and a successor in one process, over the abstract unix
// socket, with real listening sockets on loopback. No root needed.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <random>

#include "handover.h"

namespace sluice::daemon {
namespace {

uint64_t cookie(int fd) {
  uint64_t c = 0;
  socklen_t len = sizeof(c);
  return getsockopt(fd, SOL_SOCKET, SO_COOKIE, &c, &len) == 0 ? c : 0;
}

int loopback_listener() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(fd, 8) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// A name no other run uses: the abstract namespace is shared by the netns.
std::string unique_pin_dir() { return "/test/handover-" + std::to_string(std::random_device{}()); }

TEST(HandoverHeaderTest, RoundTrips) {
  HandedListeners l;
  l.mesh_port = 15001;
  l.mesh = {7, 8};
  l.admin = 9;
  l.gateway = {{8080, {10, 11}}, {8443, {12, 13}}};
  l.metrics = 14;
  const std::string line = handover_header(l);
  EXPECT_EQ(line, "sluice-handover 1 mesh=15001:2 admin=1 gateway=8080:2,8443:2 metrics=1");
  HandedListeners back;
  ASSERT_TRUE(parse_handover_header(line, back));
  EXPECT_EQ(back.mesh_port, 15001);
  EXPECT_EQ(back.mesh.size(), 2u);
  EXPECT_GE(back.admin, 0);
  EXPECT_EQ(back.gateway.size(), 2u);
  EXPECT_GE(back.metrics, 0);
  EXPECT_EQ(back.count(), 8u);
  HandedListeners none;
  EXPECT_TRUE(parse_handover_header("sluice-handover 1 mesh=0:0 admin=0 gateway=", none));
  EXPECT_EQ(none.count(), 0u);
  EXPECT_EQ(none.metrics, -1) << "a predecessor from before the metrics listener hands none";
  EXPECT_TRUE(parse_handover_header("sluice-handover 1 mesh=0:0 admin=0 gateway= metrics=0", none));
  EXPECT_FALSE(parse_handover_header("sluice-handover 1 mesh=0:0 admin=0 gateway= metrics=2", none));
  for (const char* bad : {"", "sluice-handover 2 mesh=1:1 admin=0 gateway=", "sluice-handover 1 mesh=1 admin=0 gateway=",
                          "sluice-handover 1 mesh=1:1 admin=2 gateway=", "sluice-handover 1 mesh=1:999 admin=0 gateway=",
                          "sluice-handover 1 mesh=1:1 admin=0 gateway=80:1,", "sluice-handover 1 mesh=70000:1 admin=0 gateway="}) {
    HandedListeners out;
    EXPECT_FALSE(parse_handover_header(bad, out)) << bad;
  }
}

TEST(HandoverTest, NobodyRunningMeansAFreshStart) {
  auto client = HandoverClient::connect(unique_pin_dir());
  ASSERT_TRUE(client.ok()) << client.error().to_string();
  EXPECT_FALSE(client->has_value());
}

// The successor gets the very sockets (same cookies), the predecessor hears
// "listening" only when the successor says so, and gives up the name.
TEST(HandoverTest, SocketsPassAndThePredecessorDrainsOnlyOnceTheSuccessorListens) {
  const std::string pin_dir = unique_pin_dir();
  const int mesh = loopback_listener(), admin = loopback_listener(), gateway = loopback_listener(),
            metrics = loopback_listener();
  ASSERT_GE(mesh, 0);
  std::atomic<int> handing{0}, handed{0}, aborted{0};
  auto server = HandoverServer::start(pin_dir, {.listeners =
                                                    [&] {
                                                      HandedListeners l;
                                                      l.mesh_port = 15001;
                                                      l.mesh = {mesh};
                                                      l.admin = admin;
                                                      l.gateway[8080] = {gateway};
                                                      l.metrics = metrics;
                                                      return l;
                                                    },
                                                .handing_over = [&] { ++handing; },
                                                .handed_over = [&] { ++handed; },
                                                .aborted = [&] { ++aborted; }});
  ASSERT_TRUE(server.ok()) << server.error().to_string();
  EXPECT_FALSE(HandoverServer::start(pin_dir, {}).ok()) << "two processes answered for one pin dir";

  // A successor that dies before it listens changes nothing.
  {
    auto quitter = HandoverClient::connect(pin_dir);
    ASSERT_TRUE(quitter.ok() && quitter->has_value());
  }
  for (int i = 0; i < 200 && aborted == 0; ++i) usleep(5000);
  EXPECT_EQ(aborted, 1);
  EXPECT_EQ(handed, 0);

  auto client = HandoverClient::connect(pin_dir);
  ASSERT_TRUE(client.ok()) << client.error().to_string();
  ASSERT_TRUE(client->has_value());
  HandedListeners& got = (**client)->listeners();
  ASSERT_EQ(got.mesh.size(), 1u);
  EXPECT_EQ(got.mesh_port, 15001);
  EXPECT_EQ(cookie(got.mesh[0]), cookie(mesh));
  EXPECT_EQ(cookie(got.admin), cookie(admin));
  ASSERT_EQ(got.gateway.count(8080), 1u);
  EXPECT_EQ(cookie(got.gateway[8080][0]), cookie(gateway));
  EXPECT_EQ(cookie(got.metrics), cookie(metrics));
  EXPECT_EQ(handing, 2);
  EXPECT_EQ(handed, 0) << "the predecessor drained before the successor listened";

  ASSERT_TRUE((**client)->listening(std::chrono::seconds(5)).ok());
  for (int i = 0; i < 200 && handed == 0; ++i) usleep(5000);  // told right after the answer
  EXPECT_EQ(handed, 1);
  // The name is free for the successor's own server.
  auto next = HandoverServer::start(pin_dir, {});
  EXPECT_TRUE(next.ok()) << next.error().to_string();
  (*server)->stop();
  close(mesh);
  close(admin);
  close(gateway);
  close(metrics);
}

}  // namespace
}  // namespace sluice::daemon
