// bpf/sock_lb.bpf.c in the real kernel: pods in their own netns and a test
// cgroup, real sockets, assertions on where connections land and on the
// maps. Privileged.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <fcntl.h>
#include <poll.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "connect_policy_table.h"
#include "egress_table.h"
#include "endpoint_rtt.h"
#include "kernel_datapath_maps.h"
#include "node_sim.h"
#include "pod_sockets.h"
#include "proxy_redirect.h"
#include "service_text.h"
#include "service_writer.h"
#include "snapshot_builder.h"
#include "sock_lb_loader.h"
#include "stat_reasons.h"

using namespace sluice;
using sluice::test::NamedServer;

namespace {

constexpr const char* kVip = "10.96.0.10";
// kVip as a dual-stack AF_INET6 socket dials it (the *6 hooks).
constexpr const char* kMappedVip = "::ffff:10.96.0.10";
constexpr uint16_t kVipPort = 80;
constexpr uint16_t kBackendPort = 8080;

class SockLbTest : public sluice::test::NodeTest {
 protected:
  int pod_count() const override { return 5; }

  void SetUp() override {
    NodeTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    node_->join_cgroup();
    load_and_attach();
  }

  void TearDown() override {
    servers_.clear();
    if (lb_) (void)lb_->detach();
    tables_.reset();
    lb_.reset();
    if (node_) (void)SockLb::remove_pins(node_->pin_dir());
    NodeTest::TearDown();
  }

  virtual SockLbOptions options() const { return SockLbOptions{.pin_dir = node_->pin_dir()}; }

  void load_and_attach() { load_and_attach(options()); }
  void load_and_attach(const SockLbOptions& opts) {
    auto lb = SockLb::load(opts);
    ASSERT_TRUE(lb.ok()) << lb.error().to_string();
    lb_ = std::move(*lb);
    // The node's namespace, never this process's: the sk_lookup program of a
    // proxy spread attaches there.
    Status s = lb_->attach({node_->cgroup_path(), false}, "/run/netns/" + node_->node_ns());
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    tables_ = std::make_unique<KernelDatapathMaps>(lb_->maps());
  }

  // Backends are pods first..last, each named p<i>.
  void start_backends(int first, int last, bool udp = false) {
    for (int i = first; i <= last; ++i) {
      int fd = udp ? node_->udp_socket_in_pod(i) : node_->tcp_socket_in_pod(i);
      servers_.push_back(std::make_unique<NamedServer>(fd, kBackendPort, "p" + std::to_string(i)));
    }
  }

  std::string backends_text(int first, int last) {
    std::string out;
    for (int i = first; i <= last; ++i) {
      out += " " + node_->pod_ip(i) + ":" + std::to_string(kBackendPort);
    }
    return out;
  }

  ServiceSpec apply(const std::string& line) {
    auto spec = parse_service_line(line);
    EXPECT_TRUE(spec.ok()) << line;
    Status s = ServiceWriter(*tables_).apply(*spec);
    EXPECT_TRUE(s.ok()) << s.error().to_string();
    return *spec;
  }

  // Connects from pod 1 to the VIP; returns the backend's name, and leaves
  // the connection open in *keep if given.
  std::string connect_once(int from_pod = 1, int* keep = nullptr) {
    return sluice::test::ask_name(node_->tcp_socket_in_pod(from_pod), kVip, kVipPort, keep);
  }

  std::map<std::string, int> spread(int n, int from_pod = 1) {
    return sluice::test::tally(n, [&] { return connect_once(from_pod); });
  }

  uint64_t stat(sl_reason r) { return lb_->maps().stats.sum(r); }

  // Pod i's address, host order (as sluiced's tables take it).
  uint32_t addr(int i) const {
    uint32_t a = 0;
    inet_pton(AF_INET, node_->pod_ip(i).c_str(), &a);
    return ntohl(a);
  }

  // Pod i's network namespace as connect4 knows it (bpf_get_netns_cookie).
  uint64_t netns_cookie_of_pod(int i) {
    const int fd = node_->tcp_socket_in_pod(i);
    uint64_t cookie = 0;
    socklen_t len = sizeof(cookie);
    EXPECT_EQ(getsockopt(fd, SOL_SOCKET, 71 /* SO_NETNS_COOKIE */, &cookie, &len), 0);
    close(fd);
    return cookie;
  }

  sl_svc_counters svc_counters(const ServiceSpec& spec) {
    return tables_->get_service_counters(service_key(spec)).value_or(sl_svc_counters{});
  }

  // Closing is asynchronous in TCP; wait for sockops to release the count.
  bool wait_active(const ServiceSpec& spec, uint64_t want) {
    for (int i = 0; i < 200; ++i) {
      if (svc_counters(spec).active == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  std::unique_ptr<SockLb> lb_;
  std::unique_ptr<KernelDatapathMaps> tables_;
  std::vector<std::unique_ptr<NamedServer>> servers_;
};

TEST_F(SockLbTest, RandomSpreadsWithinStatisticalTolerance) {
  start_backends(2, 4);
  apply(std::string(kVip) + ":80 algo=random" + backends_text(2, 4));
  auto counts = spread(600);
  ASSERT_EQ(counts.size(), 3u) << "every connect should reach one of three backends";
  // Expected 200 each; binomial sd is about 11.5, so 120..280 is ~7 sd.
  for (const auto& [name, n] : counts) {
    EXPECT_GE(n, 120) << name;
    EXPECT_LE(n, 280) << name;
  }
  EXPECT_EQ(stat(SL_R_CONNECT_BALANCED), 600u);
}

TEST_F(SockLbTest, RoundRobinCyclesExactly) {
  start_backends(2, 4);
  apply(std::string(kVip) + ":80 algo=round_robin" + backends_text(2, 4));
  std::vector<std::string> order;
  for (int i = 0; i < 30; ++i) order.push_back(connect_once());
  for (int i = 3; i < 30; ++i) EXPECT_EQ(order[i], order[i - 3]) << "at " << i;
  EXPECT_NE(order[0], order[1]);
  EXPECT_NE(order[1], order[2]);
  EXPECT_NE(order[0], order[2]);
}

TEST_F(SockLbTest, WeightsAreHonoured) {
  start_backends(2, 3);
  apply(std::string(kVip) + ":80 algo=round_robin " + node_->pod_ip(2) + ":8080@3 " +
        node_->pod_ip(3) + ":8080@1");
  auto counts = spread(40);
  EXPECT_EQ(counts["p2"], 30);
  EXPECT_EQ(counts["p3"], 10);
}

TEST_F(SockLbTest, LeastRequestAvoidsABusyBackend) {
  start_backends(2, 3);
  // Load p2 with 40 open connections through the VIP, so the kernel counts them.
  ServiceSpec spec = apply(std::string(kVip) + ":80 algo=least_request" + backends_text(2, 2));
  std::vector<int> held(40);
  for (int& fd : held) ASSERT_EQ(connect_once(1, &fd), "p2");
  ASSERT_TRUE(wait_active(spec, 40));

  apply(std::string(kVip) + ":80 algo=least_request" + backends_text(2, 3));
  auto counts = spread(20);
  EXPECT_EQ(counts["p3"], 20) << "p2 got " << counts["p2"];
  for (int fd : held) close(fd);
  EXPECT_TRUE(wait_active(spec, 0));
}

TEST_F(SockLbTest, ConsistentHashKeepsEachPodOnOneBackend) {
  start_backends(3, 5);
  apply(std::string(kVip) + ":80 algo=consistent_hash" + backends_text(3, 5));
  for (int pod : {1, 2}) {
    auto counts = spread(30, pod);
    EXPECT_EQ(counts.size(), 1u) << "pod " << pod << " moved between backends";
  }
}

TEST_F(SockLbTest, MaxConnectionsRefusesTheNextConnectAtOnce) {
  start_backends(2, 3);
  ServiceSpec spec = apply(std::string(kVip) + ":80 algo=round_robin max_conns=3" + backends_text(2, 3));
  std::vector<int> held(3);
  for (int& fd : held) ASSERT_NE(connect_once(1, &fd).substr(0, 5), "error");
  ASSERT_TRUE(wait_active(spec, 3));

  auto start = std::chrono::steady_clock::now();
  int fd = node_->tcp_socket_in_pod(1);
  EXPECT_EQ(sluice::test::connect_to(fd, kVip, kVipPort), -EPERM);
  close(fd);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1)) << "must fail, not hang";
  EXPECT_EQ(svc_counters(spec).refused, 1u);
  EXPECT_EQ(stat(SL_R_CONNECT_CB_REFUSED), 1u);

  close(held[0]);
  ASSERT_TRUE(wait_active(spec, 2));
  int again = -1;
  EXPECT_NE(connect_once(1, &again).substr(0, 5), "error");
  close(again);
  close(held[1]);
  close(held[2]);
}

// The kernel's network view (sl_svc_rtt): each closed connection adds its
// smoothed RTT, in tcp_rtt.h's buckets, and its retransmits, by service.
TEST_F(SockLbTest, ClosedConnectionsLeaveTheirRttByService) {
  start_backends(2, 3);
  ServiceSpec spec = apply(std::string(kVip) + ":80 algo=round_robin" + backends_text(2, 3));
  for (int i = 0; i < 3; ++i) ASSERT_NE(connect_once(1).substr(0, 5), "error");
  const int dual = node_->dual_stack_socket_in_pod(1, SOCK_STREAM);
  ASSERT_NE(sluice::test::ask_name(dual, kMappedVip, kVipPort).substr(0, 5), "error");
  ASSERT_TRUE(wait_active(spec, 0));
  std::optional<sl_svc_rtt> rtt;
  uint64_t samples = 0;
  for (int i = 0; i < 200 && samples < 4; ++i) {
    rtt = lb_->maps().rtt.lookup(service_key(spec));
    samples = 0;
    if (rtt) for (uint64_t c : rtt->buckets) samples += c;
    if (samples < 4) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(rtt.has_value());
  EXPECT_EQ(samples, 4u) << "one sample per closed connection, a dual-stack one too";
  EXPECT_GT(rtt->rtt_us_sum, 0u);
  EXPECT_LT(rtt->buckets[SL_RTT_BUCKETS - 1], 4u) << "a veth pair's RTT is not above a second";
  EXPECT_EQ(rtt->retransmits, 0u) << "a lossless veth";
  EXPECT_EQ(rtt->retransmitting, 0u);
}

// A connection whose handshake outlasts its service: the service's counters
// go with it, and the late ESTABLISHED must not create them again.
TEST_F(SockLbTest, AServiceRemovedDuringAHandshakeLeavesNoCounters) {
  // An accept queue of one: the second SYN is dropped and sent again a
  // second later, so that handshake spans the removal.
  int listener = node_->tcp_socket_in_pod(2);
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_port = htons(kBackendPort);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&any), sizeof any), 0);
  ASSERT_EQ(listen(listener, 0), 0);
  ServiceSpec spec = apply(std::string(kVip) + ":80" + backends_text(2, 2));
  const sl_svc_key key = service_key(spec);

  int first = node_->tcp_socket_in_pod(1);
  ASSERT_EQ(sluice::test::connect_to(first, kVip, kVipPort), 0);
  ASSERT_TRUE(wait_active(spec, 1));
  int second = node_->tcp_socket_in_pod(1);
  ASSERT_EQ(fcntl(second, F_SETFL, O_NONBLOCK), 0);
  sockaddr_in vip{};
  vip.sin_family = AF_INET;
  vip.sin_port = htons(kVipPort);
  inet_pton(AF_INET, kVip, &vip.sin_addr);
  ASSERT_EQ(connect(second, reinterpret_cast<sockaddr*>(&vip), sizeof vip), -1);
  ASSERT_EQ(errno, EINPROGRESS);

  ASSERT_TRUE(ServiceWriter(*tables_).remove(key).ok());
  ASSERT_FALSE(tables_->get_service_counters(key));
  int accepted = accept(listener, nullptr, nullptr);  // room for the SYN sent again
  ASSERT_GE(accepted, 0);
  pollfd p{second, POLLOUT, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1);
  int err = -1;
  socklen_t len = sizeof err;
  ASSERT_EQ(getsockopt(second, SOL_SOCKET, SO_ERROR, &err, &len), 0);
  ASSERT_EQ(err, 0) << "the handshake must complete, to the backend picked before the removal";

  EXPECT_FALSE(tables_->get_service_counters(key)) << "sockops brought the removed service's counters back";
  for (uint32_t i = 0; i < SL_MAX_SLOTS; ++i) {
    sl_backend_key bk{};
    bk.svc = key;
    bk.index = i;
    EXPECT_FALSE(tables_->get_backend_counters(bk)) << "backend " << i;
  }
  for (int fd : {first, second, accepted, listener}) close(fd);
}

TEST_F(SockLbTest, EjectedBackendGetsNothingAndAllEjectedMeansPanic) {
  start_backends(2, 4);
  ServiceSpec spec = apply(std::string(kVip) + ":80 algo=random" + backends_text(2, 4));
  ServiceWriter writer(*tables_);
  ASSERT_TRUE(writer.set_ejected(service_key(spec), node_->pod_ip_u32(4), kBackendPort, true).ok());
  auto counts = spread(90);
  EXPECT_EQ(counts.count("p4"), 0u);
  EXPECT_EQ(counts["p2"] + counts["p3"], 90);

  for (int pod : {2, 3}) {
    ASSERT_TRUE(writer.set_ejected(service_key(spec), node_->pod_ip_u32(pod), kBackendPort, true).ok());
  }
  auto panic = spread(30);
  EXPECT_EQ(panic["p2"] + panic["p3"] + panic["p4"], 30) << "panic mode balances over all backends";
  EXPECT_EQ(stat(SL_R_CONNECT_PANIC), 30u);
}

TEST_F(SockLbTest, EveryAlgorithmSkipsAnEjectedBackend) {
  start_backends(2, 3);
  for (const char* algo : {"round_robin", "least_request", "consistent_hash"}) {
    ServiceSpec spec = apply(std::string(kVip) + ":80 algo=" + algo + backends_text(2, 3));
    ASSERT_TRUE(ServiceWriter(*tables_).set_ejected(service_key(spec), node_->pod_ip_u32(2), kBackendPort, true).ok());
    auto counts = spread(20);
    EXPECT_EQ(counts["p3"], 20) << algo;
    ASSERT_TRUE(ServiceWriter(*tables_).set_ejected(service_key(spec), node_->pod_ip_u32(2), kBackendPort, false).ok());
  }
}

// One live backend among 1000 slots, 999 of them ejected (and unroutable: a
// wrong pick fails the connect). From a random start, connect4's walk
// (bpf_for_each_map_elem over sl_walk) crosses up to 999 slots, near its
// SL_MAX_SLOTS end.
TEST_F(SockLbTest, TheWalkCrossesAThousandEjectedSlots) {
  start_backends(2, 2);
  std::string line = std::string(kVip) + ":80 algo=random" + backends_text(2, 2);
  for (int i = 1; i <= 999; ++i) {
    line += " 10.201." + std::to_string(i / 250) + "." + std::to_string(1 + i % 250) + ":8080!ejected";
  }
  apply(line);
  auto counts = spread(20);
  EXPECT_EQ(counts["p2"], 20);
  EXPECT_EQ(stat(SL_R_CONNECT_BALANCED), 20u);
  EXPECT_EQ(stat(SL_R_CONNECT_PANIC), 0u);
}

TEST_F(SockLbTest, GetpeernameShowsTheVip) {
  start_backends(2, 2);
  apply(std::string(kVip) + ":80" + backends_text(2, 2));
  int fd = -1;
  ASSERT_EQ(connect_once(1, &fd), "p2");
  EXPECT_EQ(sluice::test::peer_of(fd), "10.96.0.10:80");
  close(fd);
  EXPECT_GE(stat(SL_R_GETPEER_REVERSED), 1u);
}

TEST_F(SockLbTest, UdpRequestResponseThroughTheVip) {
  start_backends(2, 3, /*udp=*/true);
  apply(std::string(kVip) + ":53/udp algo=round_robin " + node_->pod_ip(2) + ":8080 " +
        node_->pod_ip(3) + ":8080");
  int fd = node_->udp_socket_in_pod(1);
  sockaddr_in vip{};
  vip.sin_family = AF_INET;
  vip.sin_port = htons(53);
  inet_pton(AF_INET, kVip, &vip.sin_addr);
  std::string first;
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(sendto(fd, "ping", 4, 0, reinterpret_cast<sockaddr*>(&vip), sizeof(vip)), 4);
    char buf[64];
    sockaddr_in from{};
    socklen_t len = sizeof(from);
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len);
    ASSERT_GT(n, 0) << strerror(errno);
    std::string reply(buf, static_cast<size_t>(n));
    EXPECT_EQ(from.sin_addr.s_addr, vip.sin_addr.s_addr) << "reply must appear to come from the VIP";
    EXPECT_EQ(ntohs(from.sin_port), 53);
    // One socket sticks to its first backend.
    if (first.empty()) first = reply;
    EXPECT_EQ(reply, first);
  }
  close(fd);

  // A connected UDP socket: connect4 balances it, getpeername shows the VIP.
  int cfd = node_->udp_socket_in_pod(1);
  ASSERT_EQ(sluice::test::connect_to(cfd, kVip, 53), 0);
  EXPECT_EQ(sluice::test::peer_of(cfd), "10.96.0.10:53");
  ASSERT_EQ(send(cfd, "hi", 2, 0), 2);
  char buf[64];
  timeval tv{2, 0};
  setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  EXPECT_GT(recv(cfd, buf, sizeof(buf), 0), 0);
  close(cfd);
  EXPECT_GE(stat(SL_R_RECVMSG_REVERSED), 4u);
}

TEST_F(SockLbTest, UnknownVipIsLeftAlone) {
  start_backends(2, 2);
  apply(std::string(kVip) + ":80" + backends_text(2, 2));
  int fd = node_->tcp_socket_in_pod(1);
  // The pod has no route to the service range: an unrewritten connect fails.
  EXPECT_EQ(sluice::test::connect_to(fd, "10.96.0.99", 80), -ENETUNREACH);
  close(fd);
  fd = node_->tcp_socket_in_pod(1);
  EXPECT_EQ(sluice::test::connect_to(fd, kVip, 81), -ENETUNREACH);  // known VIP, unknown port
  close(fd);
  EXPECT_EQ(stat(SL_R_CONNECT_PASS_UNKNOWN), 2u);
}

// Dual-stack sockets: gRPC's C core, Java and most runtimes with IPv6 on
// dial IPv4 from an AF_INET6 socket through ::ffff:a.b.c.d, which runs the
// *6 hooks. They are balanced, counted and shown the VIP like IPv4 ones.
TEST_F(SockLbTest, DualStackSocketsDialingAV4MappedVipAreBalanced) {
  start_backends(2, 3);
  ServiceSpec spec = apply(std::string(kVip) + ":80 algo=round_robin" + backends_text(2, 3));
  auto ask_mapped = [&](int* keep = nullptr) {
    return sluice::test::ask_name(node_->dual_stack_socket_in_pod(1, SOCK_STREAM), kMappedVip, kVipPort, keep);
  };
  EXPECT_EQ(sluice::test::tally(4, [&] { return ask_mapped(); }),
            (std::map<std::string, int>{{"p2", 2}, {"p3", 2}}));

  int fd = -1;
  ASSERT_NE(ask_mapped(&fd).substr(0, 5), "error");
  EXPECT_EQ(sluice::test::peer_of(fd), "[::ffff:10.96.0.10]:80") << "getpeername6 shows the VIP";
  EXPECT_TRUE(wait_active(spec, 1)) << "sockops counts the dual-stack socket's connection";
  close(fd);
  EXPECT_TRUE(wait_active(spec, 0)) << "and releases it at close";

  const uint64_t passed = stat(SL_R_CONNECT_PASS_UNKNOWN);
  fd = node_->dual_stack_socket_in_pod(1, SOCK_STREAM);
  EXPECT_EQ(sluice::test::connect_to(fd, "::ffff:10.96.0.99", 80), -ENETUNREACH) << "an unknown VIP passes unrewritten";
  close(fd);
  EXPECT_EQ(stat(SL_R_CONNECT_PASS_UNKNOWN), passed + 1);
  fd = node_->dual_stack_socket_in_pod(1, SOCK_STREAM);
  EXPECT_EQ(sluice::test::connect_to(fd, "fd00:200::1", 80), -ENETUNREACH);
  close(fd);
  EXPECT_EQ(stat(SL_R_CONNECT_PASS_UNKNOWN), passed + 1) << "a native IPv6 destination is not looked at";
}

TEST_F(SockLbTest, DualStackUdpThroughAV4MappedVip) {
  start_backends(2, 3, /*udp=*/true);
  apply(std::string(kVip) + ":53/udp algo=round_robin " + node_->pod_ip(2) + ":8080 " + node_->pod_ip(3) + ":8080");
  timeval tv{2, 0};
  // Unconnected: the kernel hands a send to a v4-mapped address to the IPv4
  // path (sendmsg4); the reply comes back through recvmsg6.
  const int fd = node_->dual_stack_socket_in_pod(1, SOCK_DGRAM);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in6 vip{};
  vip.sin6_family = AF_INET6;
  vip.sin6_port = htons(53);
  inet_pton(AF_INET6, kMappedVip, &vip.sin6_addr);
  std::string first;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(sendto(fd, "ping", 4, 0, reinterpret_cast<sockaddr*>(&vip), sizeof(vip)), 4) << strerror(errno);
    char buf[64];
    sockaddr_storage from{};
    socklen_t len = sizeof(from);
    const ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len);
    ASSERT_GT(n, 0) << strerror(errno);
    EXPECT_EQ(sluice::test::address_text(from), "[::ffff:10.96.0.10]:53") << "the reply appears to come from the VIP";
    const std::string reply(buf, static_cast<size_t>(n));
    if (first.empty()) first = reply;
    EXPECT_EQ(reply, first) << "one socket sticks to its first backend";
  }
  close(fd);

  // Connected: connect6 balances it.
  const int cfd = node_->dual_stack_socket_in_pod(1, SOCK_DGRAM);
  setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ASSERT_EQ(sluice::test::connect_to(cfd, kMappedVip, 53), 0);
  EXPECT_EQ(sluice::test::peer_of(cfd), "[::ffff:10.96.0.10]:53");
  ASSERT_EQ(send(cfd, "hi", 2, 0), 2);
  char buf[64];
  EXPECT_GT(recv(cfd, buf, sizeof(buf), 0), 0);
  close(cfd);
}

// Egress control (docs/egress.md): under REGISTRY_ONLY a TCP connect to no
// service reaches only a known range; services stay balanced; UDP and
// ALLOW_ANY are untouched. The pod has no default route, so a connect that
// the kernel lets through fails with ENETUNREACH, and one it refuses with
// EPERM, before any packet.
TEST_F(SockLbTest, RegistryOnlyRefusesConnectsOutsideTheKnownRanges) {
  start_backends(2, 2);
  apply(std::string(kVip) + ":80" + backends_text(2, 2));
  EgressTable egress(lb_->maps().egress);
  config::EgressPolicy policy{.registry_only = true, .set_by = "istio-system/default",
                              .registered = {{0x0a6f0500, 24}}};  // 10.111.5.0/24, a ServiceEntry's
  const std::vector<config::Ipv4Range> cluster = {{0x0ac80000, 16}};  // 10.200.0.0/16
  ASSERT_TRUE(egress.sync(egress_entries(policy, cluster)).ok());
  EXPECT_EQ(egress.entries().size(), 4u);  // deny all, loopback, cluster, ServiceEntry

  auto tcp_connect = [&](const char* ip, uint16_t port) {
    const int fd = node_->tcp_socket_in_pod(1);
    const int rc = sluice::test::connect_to(fd, ip, port);
    close(fd);
    return rc;
  };
  EXPECT_EQ(tcp_connect("10.111.9.9", 443), -EPERM);
  EXPECT_EQ(stat(SL_R_CONNECT_EGRESS_BLOCKED), 1u);
  const int dual = node_->dual_stack_socket_in_pod(1, SOCK_STREAM);
  EXPECT_EQ(sluice::test::connect_to(dual, "::ffff:10.111.9.9", 443), -EPERM) << "nor through a v4-mapped address";
  close(dual);
  EXPECT_EQ(stat(SL_R_CONNECT_EGRESS_BLOCKED), 2u);
  EXPECT_EQ(tcp_connect("10.111.5.7", 443), -ENETUNREACH) << "a ServiceEntry's range is allowed";
  EXPECT_EQ(connect_once(), "p2") << "services are balanced as before";
  int direct = node_->tcp_socket_in_pod(1);
  EXPECT_EQ(sluice::test::connect_to(direct, node_->pod_ip(2).c_str(), kBackendPort), 0) << "a pod in the cluster range";
  close(direct);
  const int udp = node_->udp_socket_in_pod(1);
  EXPECT_EQ(sluice::test::connect_to(udp, "10.111.9.9", 53), -ENETUNREACH) << "UDP is not egress-controlled";
  close(udp);
  EXPECT_EQ(stat(SL_R_CONNECT_EGRESS_BLOCKED), 2u);

  // A restart adopts the table; ALLOW_ANY empties it.
  EgressTable adopted(lb_->maps().egress);
  EXPECT_EQ(adopted.entries().size(), 4u);
  policy.registry_only = false;
  ASSERT_TRUE(adopted.sync(egress_entries(policy, cluster)).ok());
  EXPECT_TRUE(lb_->maps().egress.keys().empty());
  EXPECT_EQ(tcp_connect("10.111.9.9", 443), -ENETUNREACH);
  EXPECT_EQ(stat(SL_R_CONNECT_EGRESS_BLOCKED), 2u);
}

// L4 authorization: sluiced's table (datapath/connect_policy_table.h) in
// the kernel's maps, read by connect4 (bpf/include/l4_policy.h).
TEST_F(SockLbTest, L4PolicyRefusesTheConnectsItDenies) {
  start_backends(2, 3);
  apply(std::string(kVip) + ":80" + backends_text(2, 2));
  auto direct = [&](int from, int to) {
    const int fd = node_->tcp_socket_in_pod(from);
    const int rc = sluice::test::connect_to(fd, node_->pod_ip(to).c_str(), kBackendPort);
    close(fd);
    return rc;
  };
  const uint64_t pod1 = netns_cookie_of_pod(1), pod4 = netns_cookie_of_pod(4);
  ASSERT_NE(pod1, pod4);

  // Pods 2 and 3 are guarded alike: pod 1 may not reach their kBackendPort;
  // pod 4 may; a pod with no identity (5) may reach nothing.
  ConnectPolicyTable table(lb_->maps().policy_sources, lb_->maps().policy_dests, lb_->maps().policy_rules,
                           lb_->maps().conn_rate, lb_->maps().policy_peers);
  const GuardedPods guarded = {{addr(2), "ns/deny-pod1"}, {addr(3), "ns/deny-pod1"}};
  const SetVerdicts verdicts = {
      {"ns/deny-pod1", {{0, {{0, false}}}, {pod1, {{0, true}, {kBackendPort, false}}}, {pod4, {{0, true}}}}}};
  // The destination side knows the same pods by address.
  const PeerSources peers = {{addr(1), pod1}, {addr(4), pod4}};
  ASSERT_TRUE(table.sync(guarded, verdicts, {}, peers).ok());
  EXPECT_EQ(table.rules(), 4u);

  // EACCES where the kernel lets connect4 say so (6.1+), EPERM before.
  const int denied = policy_denial_errno();
  utsname uts{};
  ASSERT_EQ(uname(&uts), 0);
  int major = 0, minor = 0;
  ASSERT_EQ(std::sscanf(uts.release, "%d.%d", &major, &minor), 2) << uts.release;
  if (major > 6 || (major == 6 && minor >= 1)) {
    EXPECT_EQ(denied, EACCES) << "the probe missed bpf_set_retval";
  }
  EXPECT_EQ(direct(1, 2), -denied);
  EXPECT_EQ(stat(SL_R_CONNECT_POLICY_DENIED), 1u);
  EXPECT_EQ(connect_once(1), "error:" + std::to_string(denied)) << "a service's backend is checked too";
  EXPECT_EQ(stat(SL_R_CONNECT_POLICY_DENIED), 2u);
  EXPECT_EQ(direct(4, 3), 0);
  EXPECT_EQ(connect_once(4), "p2");
  EXPECT_EQ(direct(5, 3), -denied) << "no identity: the set's verdict for unknown sources";

  // The same object without bpf_set_retval, as a kernel before 6.1 runs it:
  // the verifier skips the call and the refusal is the cgroup hook's EPERM.
  ASSERT_TRUE(lb_->detach().ok());
  tables_.reset();
  lb_.reset();
  SockLbOptions fallback = options();
  fallback.policy_eacces = false;
  load_and_attach(fallback);
  EXPECT_EQ(direct(1, 2), -EPERM);
  EXPECT_EQ(stat(SL_R_CONNECT_POLICY_DENIED), 4u) << "the counters survived the reload";
  EXPECT_EQ(direct(1, 4), -ECONNREFUSED) << "pod 4 is not guarded (and serves nothing)";

  // A restart adopts the tables; an empty policy empties them.
  ConnectPolicyTable adopted(lb_->maps().policy_sources, lb_->maps().policy_dests, lb_->maps().policy_rules,
                             lb_->maps().conn_rate, lb_->maps().policy_peers);
  EXPECT_EQ(adopted.rules(), 4u);
  EXPECT_EQ(adopted.guarded(), 2u);
  ASSERT_TRUE(adopted.sync({}, {}).ok());
  EXPECT_TRUE(lb_->maps().policy_rules.keys().empty());
  EXPECT_TRUE(lb_->maps().policy_sources.keys().empty());
  EXPECT_TRUE(lb_->maps().policy_dests.keys().empty());
  EXPECT_EQ(direct(1, 2), 0);
  EXPECT_EQ(stat(SL_R_CONNECT_POLICY_DENIED), 4u);
}

// The L4 connection-rate limit: a source's bucket in sl_conn_rate, taken by
// connect4 per TCP connect.
TEST_F(SockLbTest, ConnectionRateRefusesABurstPastTheBucket) {
  start_backends(2, 2);
  auto direct = [&](int from) {
    const int fd = node_->tcp_socket_in_pod(from);
    const int rc = sluice::test::connect_to(fd, node_->pod_ip(2).c_str(), kBackendPort);
    close(fd);
    return rc;
  };
  ConnectPolicyTable table(lb_->maps().policy_sources, lb_->maps().policy_dests, lb_->maps().policy_rules,
                           lb_->maps().conn_rate, lb_->maps().policy_peers);
  const uint64_t pod1 = netns_cookie_of_pod(1);
  // 3 connects per minute: no refill during the test.
  ASSERT_TRUE(table.sync({}, {}, {{pod1, {3, 3, 60'000'000'000ULL}}}).ok());
  EXPECT_EQ(table.buckets(), 1u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(direct(1), 0) << i;
  EXPECT_EQ(direct(1), -EPERM);
  EXPECT_EQ(direct(1), -EPERM);
  EXPECT_EQ(stat(SL_R_CONNECT_RATE_LIMITED), 2u);
  EXPECT_EQ(direct(3), 0) << "another pod has no bucket";
  const int udp = node_->udp_socket_in_pod(1);
  EXPECT_EQ(sluice::test::connect_to(udp, node_->pod_ip(2).c_str(), 53), 0) << "UDP is not counted";
  close(udp);

  // A new shape is written full; an unchanged one is left to the kernel.
  ASSERT_TRUE(table.sync({}, {}, {{pod1, {5, 5, 60'000'000'000ULL}}}).ok());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(direct(1), 0) << i;
  ASSERT_TRUE(table.sync({}, {}, {{pod1, {5, 5, 60'000'000'000ULL}}}).ok());
  EXPECT_EQ(direct(1), -EPERM) << "a sync of the same shape refilled the bucket";

  // A short interval refills on schedule.
  ASSERT_TRUE(table.sync({}, {}, {{pod1, {1, 1, 200'000'000ULL}}}).ok());
  EXPECT_EQ(direct(1), 0);
  EXPECT_EQ(direct(1), -EPERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(450));
  EXPECT_EQ(direct(1), 0) << "refilled after the interval";

  ASSERT_TRUE(table.sync({}, {}, {}).ok());
  EXPECT_TRUE(lb_->maps().conn_rate.keys().empty());
  EXPECT_TRUE(lb_->maps().policy_sources.keys().empty());
  EXPECT_EQ(direct(1), 0);
}

// The destination side of L4 authorization: a connection that passed no
// sluice connect4 (its socket was made outside the cgroup) is judged when its
// SYN reaches the guarded pod, by its source address (sl_pol_peer).
TEST_F(SockLbTest, TheDestinationSideJudgesConnectsThatPassedNoConnect4) {
  start_backends(2, 2);
  node_->leave_cgroup();
  int outside[3];
  for (int& fd : outside) fd = node_->tcp_socket_in_pod(1);
  node_->join_cgroup();
  auto connect_within = [&](int fd) {
    timeval tv{0, 700000};  // a dropped SYN is retried after 1 s: this fails first
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    const int rc = sluice::test::connect_to(fd, node_->pod_ip(2).c_str(), kBackendPort);
    close(fd);
    return rc;
  };
  ConnectPolicyTable table(lb_->maps().policy_sources, lb_->maps().policy_dests, lb_->maps().policy_rules,
                           lb_->maps().conn_rate, lb_->maps().policy_peers);
  constexpr uint64_t kAllowedClass = kPeerKeyBit | 1;
  const SetVerdicts verdicts = {{"ns/allow-class", {{0, {{0, false}}}, {kAllowedClass, {{0, true}}}}}};
  ASSERT_TRUE(table.sync({{addr(2), "ns/allow-class"}}, verdicts).ok());
  EXPECT_NE(connect_within(outside[0]), 0) << "an unknown peer's SYN is dropped";
  EXPECT_GE(stat(SL_R_INGRESS_POLICY_DENIED), 1u);

  ASSERT_TRUE(table.sync({{addr(2), "ns/allow-class"}}, verdicts, {}, {{addr(1), kAllowedClass}}).ok());
  EXPECT_EQ(table.peers(), 1u);
  EXPECT_EQ(connect_within(outside[1]), 0) << "a peer of an allowed identity";

  ASSERT_TRUE(table.sync({{addr(2), "ns/allow-class"}}, verdicts, {}, {{addr(1), kTrustedPeerKey}}).ok());
  EXPECT_EQ(connect_within(outside[2]), 0) << "a node's address is trusted";
  ASSERT_TRUE(table.sync({}, {}).ok());
  EXPECT_TRUE(lb_->maps().policy_peers.keys().empty());
}

TEST_F(SockLbTest, RestartWithTheSamePinDirKeepsBalancing) {
  start_backends(2, 3);
  apply(std::string(kVip) + ":80 algo=round_robin" + backends_text(2, 3));
  EXPECT_EQ(spread(4).size(), 2u);

  // The "daemon" exits without detaching: pinned links keep the hooks.
  tables_.reset();
  lb_.reset();
  auto while_down = spread(4);
  EXPECT_EQ(while_down.size(), 2u);
  EXPECT_EQ(while_down.count("error:1") + while_down.count("error:101"), 0u);

  // It starts again: maps are reused, links adopted, nothing attached twice.
  load_and_attach();
  EXPECT_TRUE(lb_->reused_maps());
  EXPECT_EQ(lb_->adopted_links(), 9) << "connect4/6, recvmsg4/6, getpeername4/6, sendmsg4, ingress, sockops";
  EXPECT_EQ(spread(4).size(), 2u);

  int cg = open(node_->cgroup_path().c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(cg, 0);
  __u32 count = 0;
  ASSERT_EQ(bpf_prog_query(cg, BPF_CGROUP_INET4_CONNECT, 0, nullptr, nullptr, &count), 0);
  EXPECT_EQ(count, 1u);
  close(cg);
}

// A release that adds reason counters reshapes sl_stats: the pinned one of
// an older sluiced is replaced instead of failing the load (counter_pins.h).
TEST_F(SockLbTest, AReshapedPinnedCounterMapIsReplaced) {
  tables_.reset();
  lb_.reset();
  const std::string pin = node_->pin_dir() + "/sl_stats";
  ASSERT_EQ(unlink(pin.c_str()), 0);
  int old = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "sl_stats", sizeof(__u32), sizeof(__u64), 22, nullptr);
  ASSERT_GE(old, 0);
  ASSERT_EQ(bpf_obj_pin(old, pin.c_str()), 0);
  close(old);
  load_and_attach();
  EXPECT_TRUE(lb_->reused_maps());
  int now = bpf_obj_get(pin.c_str());
  ASSERT_GE(now, 0);
  bpf_map_info info{};
  __u32 len = sizeof(info);
  ASSERT_EQ(bpf_obj_get_info_by_fd(now, &info, &len), 0);
  close(now);
  EXPECT_EQ(info.max_entries, SL_STATS_SLOTS);
}

TEST_F(SockLbTest, AttachingToACgroupRootIsRefused) {
  SockLbOptions o{.pin_dir = node_->pin_dir() + "/second"};
  auto lb = SockLb::load(o);
  ASSERT_TRUE(lb.ok()) << lb.error().to_string();
  Status s = (*lb)->attach({"/sys/fs/cgroup/unified", false});
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, -EPERM);
}

// --- HTTP ports redirected to the node proxy -----------------------------

constexpr uint16_t kProxyPort = 15001;
constexpr uint32_t kBypassMark = 0x5c1;

class RedirectTest : public SockLbTest {
 protected:
  SockLbOptions options() const override {
    SockLbOptions o = SockLbTest::options();
    o.proxy_ip = node_->node_ip_u32();
    o.proxy_port = kProxyPort;
    o.bypass_mark = kBypassMark;
    return o;
  }

  void SetUp() override {
    SockLbTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    start_backends(2, 2);
    apply(std::string(kVip) + ":80 l7" + backends_text(2, 2));
    // A stand-in for sluiced's proxy listener, on the node's bridge address.
    proxy_ = node_->in_node([] { return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); });
    ASSERT_EQ(sluice::test::listen_on(proxy_, node_->node_ip(), kProxyPort), 0);
  }

  void TearDown() override {
    if (proxy_ >= 0) close(proxy_);
    SockLbTest::TearDown();
  }

  // What sluiced does once its proxy listens: the kernel redirects while
  // this socket is open.
  void register_listener() { ASSERT_TRUE(register_proxy_listener(lb_->maps().proxy_listener, proxy_).ok()); }

  // The accepted side of a connection that reached the stand-in proxy.
  int accept_one() { return sluice::test::accept_within(proxy_); }

  static std::pair<uint32_t, uint16_t> peer(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof(a);
    getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return {ntohl(a.sin_addr.s_addr), ntohs(a.sin_port)};
  }
  static uint16_t local_port(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof(a);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
  }

  int proxy_ = -1;
};

TEST_F(RedirectTest, HttpPortsGoToTheProxyWhichLearnsTheOriginalDestination) {
  register_listener();
  int client = node_->tcp_socket_in_pod(1);
  ASSERT_EQ(sluice::test::connect_to(client, kVip, kVipPort), 0);
  EXPECT_EQ(sluice::test::peer_of(client), "10.96.0.10:80") << "the client still sees the VIP";
  int accepted = accept_one();
  ASSERT_GE(accepted, 0) << "the connect did not reach the proxy";
  auto [ip, port] = peer(accepted);
  EXPECT_EQ(ip, node_->pod_ip_u32(1));

  ASSERT_EQ(local_port(accepted), kProxyPort);
  auto dst = original_destination(lb_->maps().orig_dst, ip, port, kProxyPort);
  ASSERT_TRUE(dst.has_value());
  EXPECT_EQ(dst->vip, 0x0a60000au);
  EXPECT_EQ(dst->port, 80);
  EXPECT_EQ(dst->proto, IPPROTO_TCP);
  EXPECT_NE(dst->cookie, 0u);
  EXPECT_EQ(stat(SL_R_CONNECT_REDIRECTED), 1u);
  EXPECT_EQ(stat(SL_R_ORIG_DST_RECORDED), 1u);

  close(client);
  close(accepted);
  bool removed = false;
  for (int i = 0; i < 200 && !removed; ++i) {
    removed = !original_destination(lb_->maps().orig_dst, ip, port, kProxyPort);
    if (!removed) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(removed) << "the entry outlived the connection";
}

TEST_F(RedirectTest, ADualStackClientGoesToTheProxyToo) {
  register_listener();
  const int client = node_->dual_stack_socket_in_pod(1, SOCK_STREAM);
  ASSERT_EQ(sluice::test::connect_to(client, kMappedVip, kVipPort), 0);
  EXPECT_EQ(sluice::test::peer_of(client), "[::ffff:10.96.0.10]:80");
  const int accepted = accept_one();
  ASSERT_GE(accepted, 0) << "the connect did not reach the proxy";
  auto [ip, port] = peer(accepted);
  EXPECT_EQ(ip, node_->pod_ip_u32(1)) << "the connection itself is IPv4";
  auto dst = original_destination(lb_->maps().orig_dst, ip, port, kProxyPort);
  ASSERT_TRUE(dst.has_value()) << "sockops recorded the original destination of an AF_INET6 socket";
  EXPECT_EQ(dst->vip, 0x0a60000au);
  EXPECT_EQ(dst->port, 80);
  close(client);
  close(accepted);
}

// A proxy spread (docs/operations.md "Short-lived connections"): connect4
// picks one of kSpreadCount ports per connection, and the sk_lookup program
// hands each to the proxy's one listener on kProxyPort.
constexpr uint16_t kSpreadFirst = 15100, kSpreadCount = 4;

class SpreadRedirectTest : public RedirectTest {
 protected:
  SockLbOptions options() const override {
    SockLbOptions o = RedirectTest::options();
    o.proxy_spread_first = kSpreadFirst;
    o.proxy_spread_count = kSpreadCount;
    return o;
  }
};

TEST_F(SpreadRedirectTest, ConnectsAreSpreadOverThePortsAndAllReachTheOneListener) {
  register_listener();
  std::set<uint16_t> reached;
  constexpr int kConnects = 24;
  for (int i = 0; i < kConnects; ++i) {
    int client = node_->tcp_socket_in_pod(1);
    ASSERT_EQ(sluice::test::connect_to(client, kVip, kVipPort), 0);
    EXPECT_EQ(sluice::test::peer_of(client), "10.96.0.10:80") << "the client still sees the VIP";
    int accepted = accept_one();
    ASSERT_GE(accepted, 0) << "connect " << i << " did not reach the proxy's listener";
    const uint16_t proxy_port = local_port(accepted);
    EXPECT_GE(proxy_port, kSpreadFirst);
    EXPECT_LT(proxy_port, kSpreadFirst + kSpreadCount);
    reached.insert(proxy_port);
    auto [ip, port] = peer(accepted);
    auto dst = original_destination(lb_->maps().orig_dst, ip, port, proxy_port);
    ASSERT_TRUE(dst.has_value()) << "no original destination under port " << proxy_port;
    EXPECT_EQ(dst->vip, 0x0a60000au);
    EXPECT_EQ(dst->port, 80);
    close(client);
    close(accepted);
  }
  // 24 uniform picks out of 4 all alike: probability 4^-23.
  EXPECT_GE(reached.size(), 2u);
  EXPECT_EQ(stat(SL_R_SPREAD_ASSIGNED), static_cast<uint64_t>(kConnects));
}

TEST_F(SpreadRedirectTest, WithoutAListenerASpreadPortRefuses) {
  // Not registered: connect4 balances at L4, and a client dialling a spread
  // port itself finds nothing there.
  int client = node_->tcp_socket_in_pod(1);
  EXPECT_EQ(sluice::test::connect_to(client, node_->node_ip(), kSpreadFirst), -ECONNREFUSED);
  close(client);
  EXPECT_EQ(stat(SL_R_SPREAD_NO_PROXY), 1u);
  EXPECT_EQ(connect_once(), "p2");
}

TEST_F(SpreadRedirectTest, ARestartAdoptsTheSkLookupLink) {
  register_listener();
  tables_.reset();
  lb_.reset();
  load_and_attach();
  EXPECT_EQ(lb_->adopted_links(), 10) << "nine cgroup links and the sk_lookup one";
  register_listener();
  int client = node_->tcp_socket_in_pod(1);
  ASSERT_EQ(sluice::test::connect_to(client, kVip, kVipPort), 0);
  int accepted = accept_one();
  EXPECT_GE(accepted, 0);
  if (accepted >= 0) close(accepted);
  close(client);
}

// A port whose policies only the proxy enforces (docs/security.md): while no
// proxy listens, its connects are refused, not balanced at L4.
TEST_F(RedirectTest, AFailClosedPortIsRefusedWhileNoProxyListens) {
  apply(std::string(kVip) + ":80 l7 fail_closed" + backends_text(2, 2));
  int client = node_->tcp_socket_in_pod(1);
  EXPECT_EQ(sluice::test::connect_to(client, kVip, kVipPort), -EPERM);
  close(client);
  EXPECT_EQ(stat(SL_R_CONNECT_FAIL_CLOSED), 1u);

  register_listener();
  client = node_->tcp_socket_in_pod(1);
  ASSERT_EQ(sluice::test::connect_to(client, kVip, kVipPort), 0);
  int accepted = accept_one();
  EXPECT_GE(accepted, 0) << "with the proxy up, the port goes to it";
  if (accepted >= 0) close(accepted);
  close(client);
}

TEST_F(RedirectTest, WithoutARegisteredListenerHttpPortsAreBalancedAtL4) {
  EXPECT_EQ(connect_once(), "p2");
  EXPECT_EQ(stat(SL_R_CONNECT_PROXY_DOWN), 1u);
  register_listener();
  EXPECT_TRUE(proxy_listener_registered(lb_->maps().proxy_listener, proxy_));
  ASSERT_TRUE(unregister_proxy_listener(lb_->maps().proxy_listener, proxy_).ok());  // a drain
  EXPECT_FALSE(proxy_listener_registered(lb_->maps().proxy_listener, proxy_));
  EXPECT_EQ(connect_once(), "p2");
  EXPECT_EQ(stat(SL_R_CONNECT_PROXY_DOWN), 2u);
  EXPECT_EQ(stat(SL_R_CONNECT_REDIRECTED), 0u);
}

// A crash (kill -9) closes the listener without a word to the kernel: the
// kernel itself drops it from sl_proxy_lsn, and the very next connect goes
// to L4.
TEST_F(RedirectTest, WhenTheProxysListenerClosesTheNextConnectGoesToL4) {
  register_listener();
  int client = node_->tcp_socket_in_pod(1);
  ASSERT_EQ(sluice::test::connect_to(client, kVip, kVipPort), 0);
  int accepted = accept_one();
  EXPECT_GE(accepted, 0) << "the connect did not reach the proxy";
  close(client);
  if (accepted >= 0) close(accepted);
  close(proxy_);
  proxy_ = -1;
  EXPECT_FALSE(lb_->maps().proxy_listener.lookup(SL_PROXY_LISTENER_KEY).has_value()) << "the kernel kept the slot";
  EXPECT_EQ(connect_once(), "p2") << "straight to the backend";
  EXPECT_EQ(stat(SL_R_CONNECT_REDIRECTED), 1u);
  EXPECT_EQ(stat(SL_R_CONNECT_PROXY_DOWN), 1u);
}

// A listener that another sluiced registered is not taken out by this one.
TEST_F(RedirectTest, UnregisteringLeavesAnotherListenerInPlace) {
  int other = node_->in_node([] { return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); });
  ASSERT_EQ(sluice::test::listen_on(other, node_->node_ip(), kProxyPort + 1), 0);
  ASSERT_TRUE(register_proxy_listener(lb_->maps().proxy_listener, other).ok());
  ASSERT_TRUE(unregister_proxy_listener(lb_->maps().proxy_listener, proxy_).ok());
  EXPECT_TRUE(proxy_listener_registered(lb_->maps().proxy_listener, other));
  close(other);
}

TEST_F(RedirectTest, TheProxysOwnSocketsAreNotRedirected) {
  register_listener();
  int fd = node_->tcp_socket_in_pod(1);
  uint32_t mark = kBypassMark;
  ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)), 0);
  ASSERT_EQ(sluice::test::connect_to(fd, kVip, kVipPort), 0);
  EXPECT_EQ(sluice::test::read_name(fd), "p2");
  close(fd);
  EXPECT_EQ(stat(SL_R_CONNECT_BYPASS), 1u);
}

// The proxy's upstream connections carry no service state: sockops files
// their RTT under the endpoint, and EndpointRtt moves it to the services
// that have that endpoint, emptying the kernel's entry.
TEST_F(RedirectTest, TheProxysUpstreamRttGoesToTheServiceOfItsEndpoint) {
  const int fd = node_->in_node([] { return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); });
  uint32_t mark = kBypassMark;
  ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)), 0);
  ASSERT_EQ(sluice::test::connect_to(fd, node_->pod_ip(2), kBackendPort), 0);
  EXPECT_EQ(sluice::test::read_name(fd), "p2");
  close(fd);
  const sl_svc_key endpoint{.vip = htonl(addr(2)), .port = htons(kBackendPort), .proto = SL_RTT_PROTO_ENDPOINT};
  std::optional<sl_svc_rtt> rtt;
  for (int i = 0; i < 200 && !rtt; ++i) {
    rtt = lb_->maps().rtt.lookup(endpoint);
    if (!rtt) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(rtt.has_value()) << "sockops filed nothing under the endpoint";
  uint64_t samples = 0;
  for (uint64_t c : rtt->buckets) samples += c;
  EXPECT_EQ(samples, 1u);

  config::LoadResult loaded;
  config::load_yaml_text("apiVersion: v1\nkind: Service\nmetadata: {name: reviews, namespace: default}\n"
                         "spec: {clusterIP: " + std::string(kVip) + ", selector: {app: reviews}, ports: [{name: http, port: 80, "
                         "targetPort: 8080}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: reviews-1, namespace: default, "
                         "labels: {app: reviews}}\nstatus: {phase: Running, podIP: " + node_->pod_ip(2) + "}\n",
                         "t.yaml", loaded);
  config::BuildMemo memo;
  const auto snap = config::build_snapshot(std::move(loaded), 1, &memo).snapshot;
  ASSERT_TRUE(snap);
  EndpointRtt proxy_rtt(lb_->maps().rtt);
  proxy_rtt.drain(*snap);
  EXPECT_FALSE(lb_->maps().rtt.lookup(endpoint).has_value()) << "drained from the kernel";
  const auto totals = proxy_rtt.totals();
  ASSERT_EQ(totals.size(), 1u);
  EXPECT_EQ(totals[0].vip, 0x0a60000au);
  EXPECT_EQ(totals[0].port, 80);
  uint64_t drained = 0;
  for (uint64_t c : totals[0].buckets) drained += c;
  EXPECT_EQ(drained, 1u);
}

TEST_F(RedirectTest, PlainTcpPortsAreNeverRedirected) {
  register_listener();
  apply(std::string(kVip) + ":80" + backends_text(2, 2));  // the same port, not HTTP
  EXPECT_EQ(connect_once(), "p2");
  EXPECT_EQ(stat(SL_R_CONNECT_REDIRECTED), 0u);
}

}  // namespace
