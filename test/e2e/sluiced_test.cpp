// sluiced end to end on a simulated node: the daemon runs in the node's
// netns and the test cgroup, pods connect to a Service VIP, and the config
// dir changes under a running connect loop. Privileged.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "admin_client.h"
#include "daemon_admin.h"
#include "node_sim.h"
#include "pod_sockets.h"
#include "probe_loop.h"

using namespace std::chrono_literals;
using sluice::test::NamedServer;
using sluice::test::wait_for;

namespace {

constexpr uint16_t kAdminPort = 15000;  // inside the node netns, so no clash between runs
constexpr uint16_t kBackendPort = 8080;
constexpr const char* kVip = "10.96.0.10";

std::string service_yaml(const std::string& extra_spec = "") {
  return "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec:\n"
         "  clusterIP: 10.96.0.10\n  selector: {app: web}\n"
         "  ports: [{name: http, port: 80, targetPort: 8080}]\n" + extra_spec;
}

std::string pod_yaml(int i, const std::string& ip) {
  return "---\napiVersion: v1\nkind: Pod\nmetadata: {name: web-" + std::to_string(i) +
         ", namespace: default, labels: {app: web}}\nstatus: {phase: Running, podIP: " + ip + "}\n";
}

class ConnectLoop;

class SluicedTest : public sluice::test::NodeTest {
 protected:
  int pod_count() const override { return 5; }

  void SetUp() override {
    NodeTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    node_->join_cgroup();
    config_dir_ = "/tmp/" + node_->prefix() + "-config";
    std::filesystem::create_directories(config_dir_);
    for (int i = 2; i <= 5; ++i) {
      servers_.push_back(std::make_unique<NamedServer>(node_->tcp_socket_in_pod(i), kBackendPort, "p" + std::to_string(i)));
    }
  }

  void TearDown() override {
    if (node_ && daemon_ > 0) node_->stop(daemon_);
    if (node_) {
      // A daemon without --cleanup leaves pinned links: detach them.
      std::filesystem::remove_all(node_->pin_dir() + "/links");
    }
    servers_.clear();
    std::filesystem::remove_all(config_dir_);
    if (node_) {
      const std::string log = log_path();
      if (HasFailure()) {
        std::ifstream in(log);
        std::cerr << "--- sluiced log ---\n" << in.rdbuf() << "\n--- end ---\n";
      }
      std::filesystem::remove(log);
    }
    NodeTest::TearDown();
  }

  // Replaces a config file atomically, as a ConfigMap update does.
  void write_config(const std::string& name, const std::string& text) {
    const std::string tmp = config_dir_ + "/." + name + ".tmp";
    std::ofstream(tmp) << text;
    std::filesystem::rename(tmp, config_dir_ + "/" + name);
  }

  void write_web(const std::vector<int>& pods, const std::string& extra = "") {
    std::string yaml = service_yaml();
    for (int i : pods) yaml += pod_yaml(i, node_->pod_ip(i));
    write_config("web.yaml", yaml + extra);
  }

  void start_daemon(bool cleanup = false) {
    std::vector<std::string> argv = {SLUICED_PATH, "--config", config_dir_, "--cgroup", node_->cgroup_path(),
                                     "--pin-dir", node_->pin_dir(), "--admin-port", std::to_string(kAdminPort),
                                     "--log-level", "debug"};
    if (cleanup) argv.push_back("--cleanup");
    daemon_ = node_->spawn(node_->node_ns(), argv, log_path());
    ASSERT_TRUE(wait_for([&] { return admin("/ready").first == 200; }, 5s)) << "sluiced did not become ready";
  }

  std::string log_path() const { return "/tmp/" + node_->prefix() + "-sluiced.log"; }

  std::pair<unsigned, std::string> admin(const std::string& path) {
    return sluice::test::admin_get(*node_, kAdminPort, path);
  }

  friend class ConnectLoop;

  std::string connect_once() { return sluice::test::ask_name(node_->tcp_socket_in_pod(1), kVip, 80); }

  std::map<std::string, int> spread(int n) {
    return sluice::test::tally(n, [&] { return connect_once(); });
  }

  std::string config_dir_;
  pid_t daemon_ = -1;
  std::vector<std::unique_ptr<NamedServer>> servers_;
};

// Connects from pod 1 to the VIP until stopped (or a hard 60 s bound),
// recording every result.
// Connects to the L4 service over and over (probe_loop.h).
class ConnectLoop : public sluice::test::ProbeLoop {
 public:
  explicit ConnectLoop(SluicedTest* t) : ProbeLoop([t] { return t->connect_once(); }) {}
};

TEST_F(SluicedTest, BalancesAServiceOverThePodsItSelects) {
  write_web({2, 3, 4});
  start_daemon();
  auto counts = spread(60);
  EXPECT_EQ(counts.size(), 3u);
  EXPECT_EQ(counts.count("p5"), 0u) << "p5 is not selected by the Service";
  for (const auto& [name, n] : counts) EXPECT_FALSE(name.starts_with("error")) << name;
  auto maps = admin("/maps");
  EXPECT_EQ(maps.first, 200u);
  EXPECT_NE(maps.second.find("\"vip\":\"10.96.0.10\""), std::string::npos) << maps.second;
  auto cfg = admin("/config");
  EXPECT_NE(cfg.second.find("\"version\":1"), std::string::npos) << cfg.second;

  // sluicectl status reads the same API.
  const std::string cmd = sluice::test::NodeSim::script_path() + " exec " + node_->prefix() + " node " +
                          SLUICECTL_PATH + " status --admin 127.0.0.1:" + std::to_string(kAdminPort);
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << out;
  EXPECT_NE(out.find("ready: yes"), std::string::npos) << out;
  EXPECT_NE(out.find("kernel L4 services: 1"), std::string::npos) << out;

  // sluicectl dump reads the daemon's pinned maps (the proxy's listener slot
  // is not pinned, and dump must not need it).
  const std::string dump = std::string(SLUICECTL_PATH) + " --pin-dir " + node_->pin_dir() + " dump 2>&1";
  p = popen(dump.c_str(), "r");
  ASSERT_NE(p, nullptr);
  out.clear();
  while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << out;
  EXPECT_NE(out.find("10.96.0.10"), std::string::npos) << out;

  // attach and cleanup refuse a pin directory that a live sluiced owns.
  for (const std::string& sub : {std::string("cleanup"), "attach --cgroup " + node_->cgroup_path()}) {
    const std::string refused = std::string(SLUICECTL_PATH) + " --pin-dir " + node_->pin_dir() + " " + sub + " 2>&1";
    p = popen(refused.c_str(), "r");
    ASSERT_NE(p, nullptr);
    out.clear();
    while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
    EXPECT_NE(pclose(p), 0) << sub << ": " << out;
    EXPECT_NE(out.find("a running sluiced owns pin directory"), std::string::npos) << out;
  }
  EXPECT_TRUE(std::filesystem::exists(node_->pin_dir() + "/sl_services"));
  EXPECT_FALSE(connect_once().starts_with("error")) << "the daemon keeps balancing";
}

// The start-up feature probe (docs/kernels.md): one log line per feature,
// and the table on /ready?details; plain /ready stays "ready".
TEST_F(SluicedTest, ReadyDetailsShowTheKernelFeatureTable) {
  write_web({2});
  start_daemon();
  auto plain = admin("/ready");
  EXPECT_EQ(plain.second, "ready\n");
  auto details = admin("/ready?details");
  EXPECT_EQ(details.first, 200u);
  EXPECT_EQ(details.second.rfind("{\"ready\":true,\"kernel\":\"", 0), 0u) << details.second;
  for (const char* name : {"socket-lb", "l7-redirect", "sockmap", "xdp", "xdp-forward"}) {
    EXPECT_NE(details.second.find(std::string("{\"name\":\"") + name + "\",\"on\":"), std::string::npos) << name;
  }
  EXPECT_NE(details.second.find("{\"name\":\"socket-lb\",\"on\":true"), std::string::npos) << details.second;
  std::ifstream in(log_path());
  int lines = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.find("] kernel ") != std::string::npos &&
        (line.find(" on (") != std::string::npos || line.find(" off (") != std::string::npos)) {
      ++lines;
    }
  }
  EXPECT_EQ(lines, 5) << "one start-up line per feature";
}

TEST_F(SluicedTest, ChangesTakeEffectWithinASecondWithZeroFailedConnects) {
  write_web({2, 3});
  start_daemon();
  ConnectLoop loop(this);
  ASSERT_TRUE(wait_for([&] { return loop.total() > 50; }, 5s));

  // Add an endpoint.
  auto t0 = std::chrono::steady_clock::now();
  write_web({2, 3, 4});
  EXPECT_TRUE(wait_for([&] { return loop.last_seen("p4").has_value(); }, 1s)) << "new endpoint unused after 1 s";

  // Remove one.
  write_web({3, 4});
  t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_for([&] { return admin("/maps").second.find(node_->pod_ip(2)) == std::string::npos; }, 1s));
  std::this_thread::sleep_until(t0 + 1500ms);  // the loop keeps connecting meanwhile
  auto last_p2 = loop.last_seen("p2");
  ASSERT_TRUE(last_p2);
  EXPECT_LT(*last_p2, t0 + 1s) << "removed endpoint still used a second later";

  // Change the load-balancing algorithm.
  write_web({3, 4}, "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: web, namespace: default}\n"
                    "spec: {host: web, trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}}\n");
  EXPECT_TRUE(wait_for([&] { return admin("/maps").second.find("\"algorithm\":\"round_robin\"") != std::string::npos; }, 1s));
  std::this_thread::sleep_for(200ms);

  loop.stop();
  EXPECT_EQ(loop.failed(), 0) << "of " << loop.total() << " connects";
  EXPECT_GT(loop.total(), 200);

  // Delete the service: its VIP is no longer rewritten, so the pod (no
  // route to the service range) gets "network unreachable".
  std::filesystem::remove(config_dir_ + "/web.yaml");
  EXPECT_TRUE(wait_for([&] { return connect_once() == "error:" + std::to_string(ENETUNREACH); }, 1s));
}

// Per-resource admission: the invalid VirtualService is rejected alone (a
// new version is in force without it) and the error is reported.
TEST_F(SluicedTest, ABadResourceIsRejectedAloneAndReported) {
  write_web({2, 3});
  start_daemon();
  write_config("broken.yaml", "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web}\n"
                              "spec:\n  hosts: [web]\n  http:\n  - route:\n    - destination: {host: web}\n      weight: -60\n"
                              "    - destination: {host: web}\n      weight: 30\n");
  ASSERT_TRUE(wait_for([&] { return admin("/config").second.find("\"rejected\":1") != std::string::npos; }, 2s));
  const std::string cfg = admin("/config").second;
  EXPECT_NE(cfg.find("broken.yaml:9: VirtualService default/web: spec.http[0].route[0].weight: weight -60 < 0"),
            std::string::npos)
      << cfg;
  EXPECT_NE(cfg.find("\"errors\":[\""), std::string::npos) << cfg;
  auto counts = spread(30);
  EXPECT_EQ(counts["p2"] + counts["p3"], 30);
}

TEST_F(SluicedTest, Kill9DuringAConnectLoopLosesNoConnects) {
  write_web({2, 3, 4});
  start_daemon();
  ConnectLoop loop(this);
  ASSERT_TRUE(wait_for([&] { return loop.total() > 50; }, 5s));

  kill(daemon_, SIGKILL);
  node_->stop(daemon_);  // reaps
  daemon_ = -1;
  const int before = loop.total();
  ASSERT_TRUE(wait_for([&] { return loop.total() > before + 200; }, 10s)) << "connects stalled while the daemon was down";

  start_daemon();  // adopts pinned maps and links
  const int after_restart = loop.total();
  ASSERT_TRUE(wait_for([&] { return loop.total() > after_restart + 200; }, 10s));
  loop.stop();
  EXPECT_EQ(loop.failed(), 0) << "of " << loop.total() << " connects";
  EXPECT_NE(admin("/config").second.find("\"upserts\":0"), std::string::npos)
      << "a restart on unchanged config rewrites nothing";
}

TEST_F(SluicedTest, SigtermKeepsTheDataPathAndCleanupRemovesIt) {
  write_web({2});
  start_daemon();
  node_->stop(daemon_);  // SIGTERM
  daemon_ = -1;
  EXPECT_EQ(connect_once(), "p2") << "pinned programs keep balancing after a clean exit";

  start_daemon(/*cleanup=*/true);
  node_->stop(daemon_);
  daemon_ = -1;
  EXPECT_FALSE(std::filesystem::exists(node_->pin_dir() + "/sl_services"));
  EXPECT_EQ(connect_once(), "error:" + std::to_string(ENETUNREACH));
}

}  // namespace
