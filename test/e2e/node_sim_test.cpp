// Tests of the simulated-node harness itself: if these fail, every e2e test
// built on NodeSim is meaningless.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "node_sim.h"

namespace sluice::test {
namespace {

namespace fs = std::filesystem;

sockaddr_in make_addr(uint32_t ip_host_order, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(ip_host_order);
  a.sin_port = htons(port);
  return a;
}

uint32_t parse_ip(const std::string& s) {
  in_addr a{};
  EXPECT_EQ(::inet_pton(AF_INET, s.c_str(), &a), 1) << s;
  return ntohl(a.s_addr);
}

// Keeps a broken test from hanging until the ctest timeout.
void set_timeouts(int fd) {
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

struct Listener {
  int fd;
  uint16_t port;
};

// Listener on <pod ip>:<ephemeral port> in pod i.
Listener listen_in_pod(NodeSim& node, int i) {
  const int fd = node.tcp_socket_in_pod(i);
  sockaddr_in a = make_addr(node.pod_ip_u32(i), 0);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
  EXPECT_EQ(::listen(fd, 8), 0) << std::strerror(errno);
  socklen_t len = sizeof a;
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  set_timeouts(fd);
  return {fd, ntohs(a.sin_port)};
}

int connect_to(int fd, uint32_t ip, uint16_t port) {
  set_timeouts(fd);
  const sockaddr_in a = make_addr(ip, port);
  return ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
}

// Sends msg from client, echoes a reply back through the accepted socket.
void expect_round_trip(int client, int listener) {
  const int server = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(server, 0) << std::strerror(errno);
  set_timeouts(server);
  char buf[16] = {};
  ASSERT_EQ(::send(client, "ping", 4, 0), 4);
  ASSERT_EQ(::recv(server, buf, 4, MSG_WAITALL), 4);
  EXPECT_EQ(std::string(buf, 4), "ping");
  ASSERT_EQ(::send(server, "pong", 4, 0), 4);
  ASSERT_EQ(::recv(client, buf, 4, MSG_WAITALL), 4);
  EXPECT_EQ(std::string(buf, 4), "pong");
  ::close(server);
}

bool same_netns(const std::string& ns_file_a, const std::string& ns_file_b) {
  struct stat a{}, b{};
  return ::stat(ns_file_a.c_str(), &a) == 0 && ::stat(ns_file_b.c_str(), &b) == 0 &&
         a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

bool cgroup_has_pid(const std::string& cgroup, pid_t pid) {
  std::ifstream in(cgroup + "/cgroup.procs");
  for (pid_t p; in >> p;) {
    if (p == pid) return true;
  }
  return false;
}

std::string self_cgroup() {
  std::ifstream in("/proc/self/cgroup");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return {};
}

std::string run_capture(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[256];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  ::pclose(p);
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool pid_gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

TEST_F(NodeTest, PodToPodTcpExchangesBytes) {
  const Listener l = listen_in_pod(*node_, 2);
  const int client = node_->tcp_socket_in_pod(1);
  ASSERT_EQ(connect_to(client, node_->pod_ip_u32(2), l.port), 0);
  expect_round_trip(client, l.fd);
  ::close(client);
  ::close(l.fd);
}

// The safety net for every data-plane test: an unrewritten service VIP connect
// must die in the pod instead of leaving the machine.
TEST_F(NodeTest, ConnectWithoutRouteFailsWithEnetunreach) {
  const uint32_t vip = parse_ip("10.96.0.10");
  const int tcp = node_->tcp_socket_in_pod(1);
  EXPECT_EQ(connect_to(tcp, vip, 80), ENETUNREACH);
  const int udp = node_->udp_socket_in_pod(1);
  EXPECT_EQ(connect_to(udp, vip, 53), ENETUNREACH);
  ::close(tcp);
  ::close(udp);
}

TEST_F(NodeTest, NodeReachesPod) {
  const Listener l = listen_in_pod(*node_, 3);
  const int client = node_->in_node([] { return ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); });
  ASSERT_GE(client, 0);
  ASSERT_EQ(connect_to(client, node_->pod_ip_u32(3), l.port), 0);
  sockaddr_in local{};
  socklen_t len = sizeof local;
  ASSERT_EQ(::getsockname(client, reinterpret_cast<sockaddr*>(&local), &len), 0);
  EXPECT_EQ(ntohl(local.sin_addr.s_addr), node_->node_ip_u32());
  expect_round_trip(client, l.fd);
  ::close(client);
  ::close(l.fd);
}

TEST_F(NodeTest, AccessorsAgreeWithScript) {
  EXPECT_EQ(node_->pod_ip(2), "10.200.1.2");
  EXPECT_EQ(parse_ip(node_->pod_ip(2)), node_->pod_ip_u32(2));
  EXPECT_EQ(parse_ip(node_->node_ip()), node_->node_ip_u32());
  EXPECT_EQ(node_->pod_ns(1), node_->prefix() + "-p1");
  EXPECT_THROW(node_->pod_ns(0), std::out_of_range);
  EXPECT_THROW(node_->pod_ns(4), std::out_of_range);
  const std::string script = NodeSim::script_path();
  EXPECT_EQ(run_capture("bash " + script + " pod-ip 2"), "10.200.1.2\n");
  EXPECT_EQ(run_capture("bash " + script + " node-ip"), "10.200.0.1\n");
}

TEST_F(NodeTest, InNetnsPropagatesExceptions) {
  EXPECT_THROW(node_->in_pod(1, []() -> int { throw std::logic_error("boom"); }), std::logic_error);
  EXPECT_THROW(node_->in_netns(node_->prefix() + "-nope", [] {}), std::system_error);
}

TEST_F(NodeTest, DestructorRemovesEverything) {
  const std::string prefix = node_->prefix();
  const std::string cgroup = node_->cgroup_path();
  const std::string pins = node_->pin_dir();
  const std::string before = self_cgroup();
  ASSERT_TRUE(fs::is_directory(cgroup));
  ASSERT_TRUE(fs::is_directory(pins));
  ASSERT_TRUE(fs::exists("/run/netns/" + node_->node_ns()));
  std::ofstream(pins + "/leftover") << "x";  // down must cope with a non-empty pin dir
  node_->join_cgroup();
  node_.reset();

  EXPECT_EQ(self_cgroup(), before) << "process was not moved back out of the test cgroup";
  EXPECT_FALSE(fs::exists(cgroup));
  EXPECT_FALSE(fs::exists(pins));
  for (const auto& e : fs::directory_iterator("/run/netns")) {
    EXPECT_NE(e.path().filename().string().rfind(prefix, 0), 0u) << e.path();
  }
}

TEST_F(NodeTest, TwoNodesCoexistInIsolation) {
  NodeSim other(2);
  ASSERT_NE(other.prefix(), node_->prefix());

  // Same pod IPs in both nodes: a listener in the other node's pod 2 must be
  // invisible from this node's pod 1, which reaches its own (empty) pod 2.
  const Listener theirs = listen_in_pod(other, 2);
  const int probe = node_->tcp_socket_in_pod(1);
  EXPECT_EQ(connect_to(probe, node_->pod_ip_u32(2), theirs.port), ECONNREFUSED);
  ::close(probe);

  const int client = other.tcp_socket_in_pod(1);
  ASSERT_EQ(connect_to(client, other.pod_ip_u32(2), theirs.port), 0);
  expect_round_trip(client, theirs.fd);
  ::close(client);
  ::close(theirs.fd);
}

TEST_F(NodeTest, SpawnedProcessLivesInCgroupAndNetnsAndDiesWithNode) {
  const pid_t pid = node_->spawn(node_->pod_ns(1), {"sleep", "30"});
  EXPECT_TRUE(cgroup_has_pid(node_->cgroup_path(), pid));
  EXPECT_TRUE(same_netns("/proc/" + std::to_string(pid) + "/ns/net", "/run/netns/" + node_->pod_ns(1)));
  const auto start = std::chrono::steady_clock::now();
  node_.reset();
  EXPECT_TRUE(pid_gone(pid));
  // sleep dies on SIGTERM, so no 2 s SIGKILL grace should be needed.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(NodeTest, SpawnWritesLogAndStopReaps) {
  const std::string log_path = "/tmp/" + node_->prefix() + "-spawn.log";
  const pid_t pid = node_->spawn(node_->pod_ns(2), {"sh", "-c", "ip -o -4 addr show dev eth0; exec sleep 30"}, log_path);
  std::string text;
  for (int i = 0; i < 100 && text.find("10.200.1.2/16") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    text = read_file(log_path);
  }
  EXPECT_NE(text.find("10.200.1.2/16"), std::string::npos) << text;
  node_->stop(pid);
  EXPECT_TRUE(pid_gone(pid));
  EXPECT_THROW(node_->stop(pid), std::invalid_argument);
  EXPECT_THROW(node_->spawn(node_->pod_ns(1), {"sluice-no-such-binary"}), std::runtime_error);
  fs::remove(log_path);
}

TEST_F(NodeTest, StopEscalatesToSigkill) {
  const pid_t pid = node_->spawn(node_->pod_ns(1), {"sh", "-c", "trap '' TERM; exec sleep 30"});
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let the trap be set
  const auto start = std::chrono::steady_clock::now();
  node_->stop(pid);
  EXPECT_TRUE(pid_gone(pid));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1900));
}

TEST(NodeSimTest, FailedUpThrowsWithScriptOutput) {
  SLUICE_REQUIRE_ROOT();
  const char* old = std::getenv("SLUICE_CGROUP2_ROOT");
  const std::string saved = old != nullptr ? old : "";
  ::setenv("SLUICE_CGROUP2_ROOT", "/nonexistent/sluice-cgroup2", 1);
  try {
    NodeSim node(1);
    ADD_FAILURE() << "NodeSim came up without a cgroup root";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no cgroup v2 root"), std::string::npos) << e.what();
  }
  if (old != nullptr) {
    ::setenv("SLUICE_CGROUP2_ROOT", saved.c_str(), 1);
  } else {
    ::unsetenv("SLUICE_CGROUP2_ROOT");
  }
}

TEST_F(NodeTest, JoinAndLeaveCgroupMoveTheProcess) {
  const std::string before = self_cgroup();
  node_->join_cgroup();
  EXPECT_EQ(self_cgroup(), "/" + node_->prefix());
  EXPECT_TRUE(cgroup_has_pid(node_->cgroup_path(), ::getpid()));
  node_->leave_cgroup();
  EXPECT_EQ(self_cgroup(), before);
}

TEST_F(NodeTest, ScriptExecJoinsCgroupThenNetns) {
  const std::string script = NodeSim::script_path();
  const std::string out = run_capture("bash " + script + " exec " + node_->prefix() +
                                      " p3 sh -c 'cat /proc/self/cgroup; ip -o -4 addr show dev eth0'");
  EXPECT_NE(out.find("0::/" + node_->prefix() + "\n"), std::string::npos) << out;
  EXPECT_NE(out.find("10.200.1.3/16"), std::string::npos) << out;
}

}  // namespace
}  // namespace sluice::test
