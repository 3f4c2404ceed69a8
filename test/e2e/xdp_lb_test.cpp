// The XDP load balancer end to end: sluiced runs on a simulated node with
// --external-iface, an "external client" netns reaches the node over a veth
// pair the test creates (ext0 in the node netns, eth0 in the client netns),
// and connects to a LoadBalancer VIP. XDP DNATs to one of three backend
// pods, the node's stack routes to the pod over the bridge, and the TC
// egress program on ext0 puts the VIP back on the replies. Privileged.
//
//   client netns <P>-ext          node netns <P>-node                pods <P>-p1..3
//   eth0 10.111.250.2/24 ── veth ── ext0 10.111.250.1/24 (XDP + TC)
//   route 10.111.0.0/24 via .1      br0 10.200.0.1/16 ──────────────── eth0 10.200.1.<i>
//   (no default route)              ip_forward=1                       route 10.111.250.0/24 via 10.200.0.1
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include "admin_client.h"
#include "daemon_admin.h"
#include "external_client.h"
#include "node_sim.h"
#include "pod_sockets.h"

using namespace std::chrono_literals;
using sluice::test::NamedServer;
using sluice::test::wait_for;

namespace {

constexpr uint16_t kAdminPort = 15000;  // inside the node netns
constexpr uint16_t kBackendPort = 8080;
constexpr const char* kVip = "10.111.0.10";
constexpr const char* kClientIp = "10.111.250.2";
constexpr int kConnections = 90;

int sh(const std::string& cmd) { return sluice::test::run_quietly(cmd); }

// Turns TX checksum offload off on ifname in the calling thread's netns, so
// the packets it sends carry complete checksums and the receiving stack
// verifies them: a wrong incremental update then breaks the connection
// instead of hiding behind CHECKSUM_PARTIAL.
void tx_checksum_off(const std::string& ifname) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket");
  ethtool_value ev{ETHTOOL_STXCSUM, 0};
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  ifr.ifr_data = reinterpret_cast<char*>(&ev);
  int rc = ::ioctl(fd, SIOCETHTOOL, &ifr);
  ::close(fd);
  if (rc != 0) throw std::runtime_error("ETHTOOL_STXCSUM " + ifname + ": " + std::strerror(errno));
}

// Non-blocking connect with a deadline: a dropped SYN must not hang the test.
int connect_within(int fd, const std::string& ip, uint16_t port, int timeout_ms) {
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int rc = sluice::test::connect_to(fd, ip, port);
  if (rc == -EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return -ETIMEDOUT;
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    rc = -err;
  }
  ::fcntl(fd, F_SETFL, flags);
  return rc;
}

class XdpLbE2eTest : public sluice::test::NodeTest {
 protected:
  int pod_count() const override { return 3; }

  void SetUp() override {
    NodeTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    config_dir_ = "/tmp/" + node_->prefix() + "-xdp-config";
    std::filesystem::create_directories(config_dir_);
    ASSERT_NO_FATAL_FAILURE(add_external_client());
    for (int i = 1; i <= 3; ++i) {
      servers_.push_back(
          std::make_unique<NamedServer>(node_->tcp_socket_in_pod(i), kBackendPort, "p" + std::to_string(i)));
    }
  }

  void TearDown() override {
    if (node_ && daemon_ > 0) node_->stop(daemon_);
    if (node_) std::filesystem::remove_all(node_->pin_dir() + "/links");
    servers_.clear();
    std::filesystem::remove_all(config_dir_);
    if (node_) {
      if (HasFailure()) {
        std::ifstream in(log_path());
        std::cerr << "--- sluiced log ---\n" << in.rdbuf() << "\n--- end ---\n";
      }
      std::filesystem::remove(log_path());
    }
    // The client netns is <P>-ext, so the node's teardown removes it (and
    // the veth pair with it) even when a step above failed.
    NodeTest::TearDown();
  }

  std::string ext_ns() const { return node_->prefix() + "-ext"; }
  std::string log_path() const { return "/tmp/" + node_->prefix() + "-xdp-sluiced.log"; }

  void add_external_client() {
    sluice::test::ExternalLink link;
    ASSERT_NO_THROW(link = sluice::test::add_external_client(*node_, "10.111.250.1", kClientIp));
    const std::string node = node_->node_ns(), ext = link.ns;
    const std::vector<std::string> steps = {
        "ip -n " + ext + " route add 10.111.0.0/24 via 10.111.250.1",
        "ip netns exec " + node + " sysctl -qw net.ipv4.ip_forward=1",
    };
    for (const std::string& s : steps) ASSERT_EQ(sh(s), 0) << s;
    for (int i = 1; i <= 3; ++i) {
      const std::string cmd = "ip -n " + node_->pod_ns(i) + " route add 10.111.250.0/24 via " + node_->node_ip();
      ASSERT_EQ(sh(cmd), 0) << cmd;
      node_->in_pod(i, [] { tx_checksum_off("eth0"); });
    }
    node_->in_netns(ext, [] { tx_checksum_off("eth0"); });
    ASSERT_TRUE(wait_for([&] { return sh("ip -n " + ext + " link show eth0 | grep -q LOWER_UP") == 0; }, 5s));
  }

  void write_config(const std::string& text) {
    const std::string tmp = config_dir_ + "/.lb.yaml.tmp";
    std::ofstream(tmp) << text;
    std::filesystem::rename(tmp, config_dir_ + "/lb.yaml");
  }

  std::string config() const {
    std::string y =
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\n"
        "spec:\n  type: LoadBalancer\n  clusterIP: 10.96.0.10\n  selector: {app: web}\n"
        "  ports: [{name: tcp-web, port: 80, targetPort: 8080}]\n"
        "status:\n  loadBalancer:\n    ingress: [{ip: " + std::string(kVip) + "}]\n"
        "---\napiVersion: v1\nkind: Service\nmetadata: {name: private, namespace: default}\n"
        "spec:\n  type: LoadBalancer\n  clusterIP: 10.96.0.11\n  selector: {app: web}\n"
        "  ports: [{name: tcp-private, port: 81, targetPort: 8080}]\n"
        "  loadBalancerSourceRanges: [192.0.2.0/24]\n"
        "status:\n  loadBalancer:\n    ingress: [{ip: " + std::string(kVip) + "}]\n";
    for (int i = 1; i <= 3; ++i) {
      y += "---\napiVersion: v1\nkind: Pod\nmetadata: {name: web-" + std::to_string(i) +
           ", namespace: default, labels: {app: web}}\nstatus: {phase: Running, podIP: " + node_->pod_ip(i) + "}\n";
    }
    return y;
  }

  void start_daemon() {
    write_config(config());
    daemon_ = node_->spawn(node_->node_ns(),
                           {SLUICED_PATH, "--config", config_dir_, "--cgroup", node_->cgroup_path(), "--pin-dir",
                            node_->pin_dir(), "--admin-port", std::to_string(kAdminPort), "--external-iface", "ext0",
                            "--log-level", "debug", "--cleanup"},
                           log_path());
    ASSERT_TRUE(wait_for([&] { return admin("/xdp").second.find("10.111.0.10:81/tcp") != std::string::npos; }, 10s))
        << "sluiced did not program the VIPs: " << admin("/xdp").second;
  }

  std::pair<unsigned, std::string> admin(const std::string& path) {
    return sluice::test::admin_get(*node_, kAdminPort, path);
  }

  std::string config_dir_;
  pid_t daemon_ = -1;
  std::vector<std::unique_ptr<NamedServer>> servers_;
};

TEST_F(XdpLbE2eTest, LoadBalancerVipSpreadsOverThreePodsAndClientSeesTheVip) {
  ASSERT_NO_FATAL_FAILURE(start_daemon());
  EXPECT_NE(admin("/xdp").second.find("\"mode\":\"native\""), std::string::npos) << admin("/xdp").second;

  std::map<std::string, int> per_pod;
  int peer_is_vip = 0;
  node_->in_netns(ext_ns(), [&] {
    for (int i = 0; i < kConnections; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      ASSERT_GE(fd, 0);
      int rc = connect_within(fd, kVip, 80, 3000);
      if (rc == 0) {
        ++per_pod[sluice::test::read_name(fd)];
        if (sluice::test::peer_of(fd) == std::string(kVip) + ":80") ++peer_is_vip;
      } else {
        ADD_FAILURE() << "connect " << i << ": " << std::strerror(-rc);
      }
      ::close(fd);
    }
  });
  EXPECT_EQ(peer_is_vip, kConnections);
  for (const char* pod : {"p1", "p2", "p3"}) {
    EXPECT_GE(per_pod[pod], kConnections / 10) << pod << " got too few of " << kConnections << " connections";
  }
  EXPECT_EQ(per_pod[""], 0) << "connections without a greeting";
  const std::string xdp = admin("/xdp").second;
  EXPECT_NE(xdp.find("\"new_flows\":" + std::to_string(kConnections)), std::string::npos) << xdp;
  EXPECT_EQ(xdp.find("\"tc_reversed\":0,"), std::string::npos) << xdp;
  // The forward path is on, but on a bridge node no device takes XDP
  // frames (the bridge never does; the pods' veth peers have neither XDP
  // nor GRO), so nothing is listed, the FIB is not asked, the stack forwards.
  EXPECT_NE(xdp.find("\"redirect\":true"), std::string::npos) << xdp;
  EXPECT_NE(xdp.find("\"tx_devices\":[]"), std::string::npos) << xdp;
  EXPECT_NE(xdp.find("\"fib_redirect\":0,"), std::string::npos) << xdp;
  EXPECT_NE(xdp.find("\"fib_pass\":0,"), std::string::npos) << xdp;
}

TEST_F(XdpLbE2eTest, SourceOutsideLoadBalancerSourceRangesIsDropped) {
  ASSERT_NO_FATAL_FAILURE(start_daemon());
  node_->in_netns(ext_ns(), [&] {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(connect_within(fd, kVip, 81, 1500), -ETIMEDOUT);
    ::close(fd);
  });
  const std::string xdp = admin("/xdp").second;
  EXPECT_EQ(xdp.find("\"drop_src_range\":0,"), std::string::npos) << xdp;
}

}  // namespace
