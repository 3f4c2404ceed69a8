// sluiced going away and coming back (docs/operations.md): a SIGTERM drain
// under keep-alive load, a kill -9 and a restart 4 s later, and a /ready
// that waits for the listeners. Privileged.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <regex>
#include <string>

#include "daemon_admin.h"
#include "l7_fixture.h"
#include "probe_loop.h"

namespace sluice::test {
namespace {

class RestartTest : public L7Test {
 protected:
  // One HTTP request per connection from pod 1: "error connect" when the
  // connect is refused, "cut" when it connected and then got no answer (a
  // request in flight when the proxy died), else whether the answer came
  // through the proxy or straight from a pod.
  std::string probe() {
    int fd = node_->tcp_socket_in_pod(1);
    std::string label;
    if (connect_to(fd, kVip, kPort) != 0) {
      label = "error connect";
    } else {
      const HttpReply r = raw_request(fd, "GET /reviews/1 HTTP/1.1\r\nHost: reviews\r\nConnection: close\r\n\r\n");
      label = r.status == 0 ? "cut" : r.status != 200 ? "error status " + std::to_string(r.status)
                                    : through_proxy(r) ? "proxied" : "direct";
    }
    close(fd);
    return label;
  }

  static int count(std::map<std::string, int> counts, const std::string& label) { return counts[label]; }

  // 20 busy wrk keep-alive connections from pod 1 for `seconds`.
  pid_t start_wrk(int seconds) {
    return node_->spawn(node_->pod_ns(1),
                        {"wrk", "-t", "2", "-c", "20", "-d", std::to_string(seconds) + "s", "-H", "Host: reviews",
                         "http://" + std::string(kVip) + ":" + std::to_string(kPort) + "/reviews/1"},
                        wrk_log());
  }
  std::string wrk_log() const { return dir_ + "/wrk.log"; }
  std::string wrk_output() const {
    std::ifstream in(wrk_log());
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  bool wrk_done(std::chrono::seconds limit) {
    return wait_for([&] { return wrk_output().find("requests in") != std::string::npos; }, limit);
  }

  // A Gateway on the node's port kGatewayPort routing edge.example.com to reviews.
  static constexpr uint16_t kGatewayPort = 18080;
  static std::string edge_gateway() {
    return R"(---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 18080, name: http, protocol: HTTP}
    hosts: [edge.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: edge, namespace: default}
spec:
  hosts: [edge.example.com]
  gateways: [edge]
  http:
  - route:
    - destination: {host: reviews}
)";
  }
  // One request through the gateway from the node, on a connection of its own.
  HttpReply gateway_get() {
    return node_->in_node([&] {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      HttpReply r;
      if (connect_to(fd, node_->node_ip(), kGatewayPort) == 0) {
        r = raw_request(fd, "GET /reviews/1 HTTP/1.1\r\nHost: edge.example.com\r\nConnection: close\r\n\r\n");
      }
      close(fd);
      return r;
    });
  }

  // A kernel counter of /maps ("connect_redirected", "connect_proxy_down").
  long kernel_count(const std::string& name) {
    const std::string maps = admin_get(*node_, kAdminPort, "/maps").second;
    std::smatch m;
    if (!std::regex_search(maps, m, std::regex("\"" + name + "\":(\\d+)"))) return -1;
    return std::stol(m[1]);
  }
};

// wrk's summary: requests completed, and every failure it counts (socket
// errors of each kind, non-2xx/3xx answers).
struct WrkSummary {
  long requests = -1;
  long failures = 0;
};

WrkSummary parse_wrk(const std::string& out) {
  WrkSummary s;
  std::smatch m;
  if (std::regex_search(out, m, std::regex(R"((\d+) requests in)"))) s.requests = std::stol(m[1]);
  if (std::regex_search(out, m, std::regex(R"(Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+))"))) {
    for (int i = 1; i <= 4; ++i) s.failures += std::stol(m[i]);
  }
  if (std::regex_search(out, m, std::regex(R"(Non-2xx or 3xx responses: (\d+))"))) s.failures += std::stol(m[1]);
  return s;
}

TEST_F(RestartTest, SigtermUnderKeepAliveLoadFailsNoRequest) {
  daemon_flags_ = {"--no-access-log"};  // tens of thousands of requests
  start(bookinfo(route_with("", kAllPods)));
  // 20 busy keep-alive connections for 8 s; sluiced gets SIGTERM in the middle.
  const pid_t wrk = start_wrk(8);
  std::this_thread::sleep_for(2s);  // load through the proxy for a while
  EXPECT_GE(kernel_count("connect_redirected"), 20) << "wrk's connections did not go to the proxy";
  kill(daemon_, SIGTERM);  // the drain, then exit
  // The admin API still answers while the drain runs (at least its 1 s
  // accept grace), and says why it is not ready.
  EXPECT_TRUE(wait_for(
      [&] { return admin_get(*node_, kAdminPort, "/ready").second.find("draining before exit") != std::string::npos; },
      1s));
  EXPECT_TRUE(log_has("shutting down", 30s)) << "sluiced did not finish its drain";
  node_->stop(daemon_);  // reaps (a second SIGTERM after the drain changes nothing)
  daemon_ = -1;
  EXPECT_TRUE(wrk_done(20s));
  node_->stop(wrk);
  const WrkSummary s = parse_wrk(wrk_output());
  std::cout << "wrk across SIGTERM: " << s.requests << " requests, " << s.failures << " failed\n";
  EXPECT_GT(s.requests, 0) << wrk_output();
  EXPECT_EQ(s.failures, 0) << wrk_output();
  const std::string daemon_log = log();
  std::smatch drained;
  EXPECT_TRUE(std::regex_search(daemon_log, drained, std::regex(R"(drained in \d+ ms)")))
      << "the drain did not finish before its timeout";
  if (!drained.empty()) std::cout << "sluiced: " << drained[0] << "\n";
  EXPECT_EQ(daemon_log.find("drain timeout"), std::string::npos);
}

TEST_F(RestartTest, KillNineThenRestartRefusesNoConnect) {
  start(bookinfo(route_with("", kAllPods)));
  ProbeLoop loop([this] { return probe(); });
  ASSERT_TRUE(wait_for([&] { return count(loop.counts(), "proxied") > 20; }, 10s)) << "no probe went through the proxy";

  kill(daemon_, SIGKILL);
  node_->stop(daemon_);  // reaps
  daemon_ = -1;
  std::this_thread::sleep_for(100ms);  // a probe under way at the kill has been counted
  const auto at_kill = loop.counts();
  std::this_thread::sleep_for(4s);  // sluiced is down
  const auto at_restart = loop.counts();
  EXPECT_GT(count(at_restart, "direct") - count(at_kill, "direct"), 20) << "connects stalled while sluiced was down";
  EXPECT_EQ(count(at_restart, "proxied"), count(at_kill, "proxied")) << "with sluiced down, nothing reaches a proxy";

  start_daemon({"--config", dir_ + "/config"});  // adopts the pinned maps and links; waits until it proxies
  const int proxied_back = count(loop.counts(), "proxied");
  EXPECT_TRUE(wait_for([&] { return count(loop.counts(), "proxied") > proxied_back + 20; }, 10s))
      << "new connections did not go through the proxy again";
  loop.stop();
  std::cout << "probes across kill -9 and restart:";
  for (const auto& [label, n] : loop.counts()) std::cout << " " << label << "=" << n;
  std::cout << " (" << count(at_restart, "direct") - count(at_kill, "direct") << " direct during the 4 s gap)\n";
  EXPECT_EQ(loop.failed(), 0) << "of " << loop.total() << " probes: refused connects or wrong answers";
  EXPECT_LE(count(loop.counts(), "cut"), 1) << "only a request under way at the kill may be lost";
}

// docs/operations.md "Upgrades": a new sluiced starts beside the running one
// (DaemonSet maxSurge: 1), takes its listening sockets, and the old one
// drains and then gets SIGTERM. Under 20 busy wrk keep-alive connections and
// a connect-per-request probe: no refused connect, no failed request, and no
// HTTP connect balanced at L4 around the proxy (the kernel's
// connect_proxy_down counter does not move).
TEST_F(RestartTest, UpgradeBesideTheRunningSluicedLosesNothing) {
  daemon_flags_ = {"--no-access-log"};  // tens of thousands of requests
  start(bookinfo(route_with("", kAllPods) + edge_gateway()));
  const pid_t old_daemon = daemon_;
  ProbeLoop loop([this] { return probe(); });
  // The gateway listener passes too: a client of the gateway sees no reset.
  ProbeLoop edge([this] {
    const HttpReply r = gateway_get();
    return r.status == 200 ? "ok" : "error status " + std::to_string(r.status);
  });
  const pid_t wrk = start_wrk(9);
  ASSERT_TRUE(wait_for([&] { return count(loop.counts(), "proxied") > 20; }, 10s)) << "no probe went through the proxy";
  std::this_thread::sleep_for(1s);  // load through the old proxy for a while
  const long around_before = kernel_count("connect_proxy_down");
  ASSERT_GE(around_before, 0);

  const auto upgrade_start = std::chrono::steady_clock::now();
  spawn_daemon({"--config", dir_ + "/config"}, "sluiced-new.log");  // beside the old one, same pin dir
  const pid_t new_daemon = daemon_;
  EXPECT_TRUE(log_has("took over: the previous sluiced drains", 20s, "sluiced-new.log"));
  EXPECT_TRUE(log_has("handed over: idle until SIGTERM", 20s)) << "the old sluiced did not finish its drain";
  std::cout << "upgrade: the new sluiced took over "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - upgrade_start)
                   .count()
            << " ms after its start\n";
  wait_ready_and_proxying();  // the admin port is the handed-over one: the new sluiced answers
  std::this_thread::sleep_for(1s);

  // The DaemonSet controller deletes the old pod once the new one is ready.
  const int proxied_before_stop = count(loop.counts(), "proxied");
  kill(old_daemon, SIGTERM);
  EXPECT_TRUE(log_has("shutting down", 10s)) << "the old sluiced did not stop";
  node_->stop(old_daemon);  // reaps
  EXPECT_TRUE(wait_for([&] { return count(loop.counts(), "proxied") > proxied_before_stop + 20; }, 10s))
      << "with the old sluiced gone, nothing went through the new proxy";
  // The Prometheus listener passed too: with the old sluiced gone, the new
  // one answers on the very socket (it could not have bound the port beside
  // the old one).
  EXPECT_EQ(log("sluiced-new.log").find("the admin API still serves /metrics"), std::string::npos);
  auto scraped = node_->in_node([] { return sluice::http_get("127.0.0.1", 15020, "/metrics", 2s); });
  ASSERT_TRUE(scraped.ok()) << scraped.error().to_string();
  EXPECT_EQ(scraped->first, 200u);
  EXPECT_NE(scraped->second.find("# TYPE istio_requests_total counter"), std::string::npos);
  EXPECT_TRUE(wrk_done(20s));
  node_->stop(wrk);
  loop.stop();
  edge.stop();
  const long around = kernel_count("connect_proxy_down") - around_before;

  const WrkSummary s = parse_wrk(wrk_output());
  std::cout << "wrk across the upgrade: " << s.requests << " requests, " << s.failures << " failed\n";
  std::cout << "probes across the upgrade:";
  for (const auto& [label, n] : loop.counts()) std::cout << " " << label << "=" << n;
  std::cout << "; HTTP connects balanced around the proxy: " << around << "; gateway requests: " << edge.total()
            << ", " << edge.failed() << " failed\n";
  EXPECT_GT(s.requests, 0) << wrk_output();
  EXPECT_EQ(s.failures, 0) << wrk_output();
  EXPECT_EQ(loop.failed(), 0) << "of " << loop.total() << " probes: refused connects or wrong answers";
  EXPECT_EQ(count(loop.counts(), "cut"), 0) << "a request was lost";
  EXPECT_EQ(count(loop.counts(), "direct"), 0) << "a probe went around the proxy";
  EXPECT_EQ(around, 0) << "HTTP connects went around the proxy";
  EXPECT_GT(edge.total(), 20);
  EXPECT_EQ(edge.failed(), 0) << "gateway requests failed across the upgrade";
  EXPECT_EQ(log().find("drain timeout"), std::string::npos);
  EXPECT_EQ(log("sluiced-new.log").find("draining"), std::string::npos) << "the new sluiced drained";
  daemon_ = new_daemon;  // TearDown stops it
}

// The gateway port is held by another socket, so its listener cannot open:
// /ready says so, and turns true only once the listener accepts.
TEST_F(RestartTest, ReadyWaitsUntilTheListenersAccept) {
  std::ofstream(dir_ + "/config/mesh.yaml") << bookinfo(edge_gateway());
  int squatter = node_->in_node([] { return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); });
  ASSERT_EQ(listen_on(squatter, node_->node_ip(), kGatewayPort), 0);
  spawn_daemon({"--config", dir_ + "/config"});

  const std::string waiting = "the gateway listener on port " + std::to_string(kGatewayPort) + " to accept";
  ASSERT_TRUE(wait_for([&] { return admin_get(*node_, kAdminPort, "/ready").second.find(waiting) != std::string::npos; },
                       10s))
      << admin_get(*node_, kAdminPort, "/ready").second;
  // Everything else is up by now: only the gateway port keeps it unready.
  for (int i = 0; i < 20; ++i) {
    const auto r = admin_get(*node_, kAdminPort, "/ready");
    EXPECT_EQ(r.first, 503u) << r.second;
  }
  const auto details = admin_get(*node_, kAdminPort, "/ready?details");
  EXPECT_EQ(details.first, 503u);
  EXPECT_NE(details.second.find("\"waiting_for\":[\"" + waiting + "\"]"), std::string::npos) << details.second;

  close(squatter);  // the port is free: the daemon's retry takes it
  ASSERT_TRUE(wait_for([&] { return admin_get(*node_, kAdminPort, "/ready").first == 200; }, 10s))
      << admin_get(*node_, kAdminPort, "/ready").second;
  // Ready means accepting, at once: the gateway answers, and so does the proxy.
  const HttpReply via_gateway = gateway_get();
  EXPECT_EQ(via_gateway.status, 200u);
  EXPECT_TRUE(through_proxy(get("/reviews/1")));
  EXPECT_EQ(admin_get(*node_, kAdminPort, "/ready?details").second.find("\"waiting_for\":[]") != std::string::npos,
            true);
}

// Short-lived connections from one pod at a fixed rate for
// SLUICE_CLOSE_LOAD_SECONDS (60 by default): first to the pods through an
// L4-only Service (what the pod reaches without the mesh), then through the
// proxy. Each connection carries one request and the client closes it as
// soon as the response is in, so every one leaves a TIME_WAIT entry in the
// pod for 60 s. Toward one destination this machine's kernel runs out of
// ports after about 15k of them, so the rate (SLUICE_CLOSE_LOAD_RATE,
// 600/s: 36k connections) is one that three pods take without the mesh, and
// that a proxy reached at a single address and port could not: that one
// collapsed after about 15 s (docs/operations.md "Short-lived connections").
TEST_F(RestartTest, ConnectionCloseLoadThroughTheProxyDoesNotCollapse) {
  auto env = [](const char* name, int fallback) {
    const char* v = std::getenv(name);
    return v ? std::atoi(v) : fallback;
  };
  const int seconds = env("SLUICE_CLOSE_LOAD_SECONDS", 60), rate = env("SLUICE_CLOSE_LOAD_RATE", 600);
  // bench/restart.sh sets it to "off" once, to show the collapse the spread prevents.
  if (const char* spread = std::getenv("SLUICE_PROXY_SPREAD_PORTS")) daemon_flags_ = {"--proxy-spread-ports", spread};
  std::ofstream(dir_ + "/config/mesh.yaml")
      << bookinfo("---\napiVersion: v1\nkind: Service\nmetadata: {name: reviews-tcp, namespace: default}\n"
                  "spec: {clusterIP: 10.96.0.21, selector: {app: reviews}, ports: [{name: tcp, port: 9080, targetPort: 8080}]}\n");
  start_daemon({"--config", dir_ + "/config"});
  struct Load {
    long due = -1, ok = -1, last_ok = 0;  // requests due, answered in the whole run, answered in its last 10 s
  };
  auto run = [&](const std::string& vip, const std::string& name) {
    const std::string log = dir_ + "/load-" + name + ".log";
    const pid_t load = node_->spawn(
        node_->pod_ns(1),
        {SLUICE_HTTP_LOAD_PATH, "--target", vip + ":9080", "--rate", std::to_string(rate), "--duration-s",
         std::to_string(seconds), "--warmup-s", "0", "--host", "reviews", "--path", "/reviews/1",
         "--new-connection-per-request", "--per-second", "--max-connections", "1024"},
        log);
    auto text = [&] {
      std::ifstream in(log);
      return std::string(std::istreambuf_iterator<char>(in), {});
    };
    EXPECT_TRUE(wait_for([&] { return text().find("requests=") != std::string::npos; }, std::chrono::seconds(seconds + 20)));
    node_->stop(load);
    Load out;
    const std::string t = text();
    std::smatch m;
    if (std::regex_search(t, m, std::regex(R"(requests=(\d+) ok=(\d+) errors=)"))) {
      out.due = std::stol(m[1]);
      out.ok = std::stol(m[2]);
    }
    const std::regex second(R"(second=(\d+) ok=(\d+))");
    for (std::sregex_iterator it(t.begin(), t.end(), second), end; it != end; ++it) {
      if (std::stoi((*it)[1]) >= seconds - 10) out.last_ok += std::stol((*it)[2]);
    }
    std::cout << "connection-close load " << name << ": " << out.ok << " ok of " << out.due << " due, "
              << out.last_ok << " ok in the last 10 s\n";
    if (out.ok < long(0.9 * rate * seconds)) std::cout << t;  // per second, to show when it fell
    return out;
  };
  const Load direct = run("10.96.0.21", "direct");
  const Load proxied = run(kVip, "proxied");
  std::cout << "connection-close rate ratio proxied/direct: " << double(proxied.ok) / double(direct.ok) << "\n";
  EXPECT_GE(direct.ok, long(0.9 * rate * seconds)) << "the load generator fell behind without the mesh";
  EXPECT_GE(proxied.ok, long(0.9 * double(direct.ok))) << "the rate through the proxy collapsed";
  EXPECT_GE(proxied.last_ok, long(0.9 * rate * 10)) << "the rate through the proxy collapsed by the end";
}

}  // namespace
}  // namespace sluice::test
