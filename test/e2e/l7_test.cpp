// The L7 path end to end: a pod connects to a Service VIP on an HTTP port,
// the kernel redirects it to sluiced's proxy on the node, the proxy routes by
// the VirtualService and forwards to sluice-echo pods. Privileged.
#include <atomic>
#include <mutex>
#include <poll.h>
#include <set>

#include "l7_fixture.h"

using namespace std::chrono_literals;
using namespace sluice::test;

namespace {

constexpr const char* kJasonToV2 = R"(---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match:
    - headers:
        end-user: {exact: jason}
    route:
    - destination: {host: reviews, subset: v2}
  - match:
    - uri: {prefix: /reviews}
    route:
    - destination: {host: reviews, subset: v1}
  - match:
    - uri: {exact: /moved}
    redirect: {uri: /reviews/1}
  - match:
    - uri: {regex: "/health(z)?"}
    directResponse: {status: 200, body: {string: "ok"}}
)";

TEST_F(L7Test, RequestRoutingByHeaderAsInIstiosTask) {
  start(bookinfo(kJasonToV2));
  EXPECT_EQ(versions(20), (std::map<std::string, int>{{"v1", 20}}));
  EXPECT_EQ(versions(20, "end-user: jason\r\n"), (std::map<std::string, int>{{"v2", 20}}));
  EXPECT_TRUE(log_has("\"route\":\"default/reviews\"")) << "access log line";
  EXPECT_TRUE(log_has("\"upstream\":\"" + node_->pod_ip(3) + ":8080\""));
}

TEST_F(L7Test, NoRouteRedirectAndDirectResponse) {
  start(bookinfo(kJasonToV2));
  HttpReply none = get("/other");
  EXPECT_EQ(none.status, 404u);
  EXPECT_TRUE(log_has("\"flags\":\"NR\""));

  HttpReply moved = get("/moved");
  EXPECT_EQ(moved.status, 301u);
  EXPECT_EQ(moved.headers["location"], "http://reviews:9080/reviews/1");

  HttpReply health = get("/healthz");
  EXPECT_EQ(health.status, 200u);
  EXPECT_EQ(health.body, "ok");
}

TEST_F(L7Test, WeightedRoutesSplitTraffic) {
  start(bookinfo(R"(---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 90}
    - {destination: {host: reviews, subset: v3}, weight: 10}
)"));
  auto v = versions(2000);
  EXPECT_EQ(v["v1"] + v["v3"], 2000);
  EXPECT_GE(v["v3"], 140);  // 200 expected; sd about 13
  EXPECT_LE(v["v3"], 260);
}

TEST_F(L7Test, RewriteChangesThePathAndAuthority) {
  start(bookinfo(R"(---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match:
    - uri: {prefix: /api/}
    rewrite: {uri: /reviews/, authority: reviews.internal}
    route:
    - destination: {host: reviews, subset: v1}
)"));
  HttpReply r = get("/api/7?x=1");
  EXPECT_EQ(r.status, 200u);
  EXPECT_NE(r.body.find("\"path\":\"/reviews/7?x=1\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"host\":\"reviews.internal\""), std::string::npos) << r.body;
}

TEST_F(L7Test, RouteTimeoutGives504UT) {
  start(bookinfo(route_with("    timeout: 1s\n")));
  const auto t0 = std::chrono::steady_clock::now();
  HttpReply r = get("/reviews/1", "x-echo-delay-ms: 3000\r\n");
  const double took = seconds_since(t0);
  EXPECT_EQ(r.status, 504u);
  EXPECT_GE(took, 0.9);
  EXPECT_LT(took, 2.5);
  EXPECT_TRUE(log_has("\"flags\":\"UT\""));
}

TEST_F(L7Test, RetriesOn503ReachAHealthyPod) {
  start_echo(3, {"--status", "503", "--fail-percent", "100"});  // one broken pod of three
  start(bookinfo(route_with("    retries: {attempts: 3, retryOn: 5xx}\n", kAllPods)));
  auto v = versions(40);
  EXPECT_EQ(v["v1"] + v["v3"], 40) << "every request ends on a healthy pod";
  EXPECT_TRUE(log_has("\"attempts\":2")) << "some requests needed a retry";
}

TEST_F(L7Test, WithoutRetriesTheBrokenPodShows) {
  start_echo(3, {"--status", "503", "--fail-percent", "100"});
  start(bookinfo(route_with("    retries: {attempts: 0}\n", kAllPods)));
  auto v = versions(40);
  EXPECT_GT(v["status:503"], 0);
}

TEST_F(L7Test, PerTryTimeoutIsHonouredAndAttemptsAreLogged) {
  start(bookinfo(route_with("    timeout: 5s\n    retries: {attempts: 2, perTryTimeout: 200ms, retryOn: 5xx}\n")));
  const auto t0 = std::chrono::steady_clock::now();
  HttpReply r = get("/reviews/1", "x-echo-delay-ms: 2000\r\n");
  const double took = seconds_since(t0);
  EXPECT_EQ(r.status, 504u);
  EXPECT_LT(took, 1.5) << "three 200 ms tries, not a 2 s wait";
  EXPECT_TRUE(log_has("\"attempts\":3"));
}

TEST_F(L7Test, FixedDelayFaultAddsItsDelay) {
  start(bookinfo(route_with("    fault: {delay: {fixedDelay: 2s, percentage: {value: 100}}}\n")));
  const auto t0 = std::chrono::steady_clock::now();
  HttpReply r = get("/reviews/1");
  EXPECT_EQ(r.status, 200u);
  EXPECT_GE(seconds_since(t0), 2.0);
  EXPECT_TRUE(log_has("\"flags\":\"DI\""));
}

TEST_F(L7Test, AbortFaultHitsItsShare) {
  start(bookinfo(route_with("    fault: {abort: {httpStatus: 500, percentage: {value: 50}}}\n")));
  auto v = versions(200);
  std::string seen;
  for (const auto& [k, n] : v) seen += k + "=" + std::to_string(n) + " ";
  EXPECT_EQ(v["status:500"] + v["v1"], 200) << seen;
  EXPECT_GE(v["status:500"], 60);  // 100 expected
  EXPECT_LE(v["status:500"], 140);
  EXPECT_TRUE(log_has("\"flags\":\"FI\""));
}

// Accepts connections in a pod and records what arrives; never answers.
class CaptureSink {
 public:
  CaptureSink(int fd, uint16_t port) : fd_(fd) {
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    listen(fd_, 64);
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 100) != 1) continue;
        int c = accept(fd_, nullptr, nullptr);
        if (c < 0) continue;
        char buf[4096];
        timeval tv{0, 200000};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        ssize_t n = read(c, buf, sizeof(buf));
        std::lock_guard lock(mu_);
        if (n > 0) seen_.append(buf, static_cast<size_t>(n));
        held_.push_back(c);  // held open, unanswered: a mirror that hangs
      }
    });
  }
  ~CaptureSink() {
    stop_ = true;
    thread_.join();
    for (int c : held_) close(c);
    close(fd_);
  }
  std::string seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  int fd_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::string seen_;
  std::vector<int> held_;
  std::thread thread_;
};

TEST_F(L7Test, MirrorGetsAShadowCopyAndNeverSlowsThePrimary) {
  CaptureSink sink(node_->tcp_socket_in_pod(4), 9090);
  const std::string config = mirrored_to_sink();
  start(config);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(versions(10)["v1"], 10);
  EXPECT_LT(seconds_since(t0), 2.0) << "ten requests; the mirror never answers";
  for (int i = 0; i < 100 && sink.seen().find("reviews-shadow") == std::string::npos; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_NE(sink.seen().find("reviews-shadow:9080"), std::string::npos) << sink.seen().substr(0, 300);
  EXPECT_NE(sink.seen().find("GET /reviews/1"), std::string::npos);
}

TEST_F(L7Test, ADeadMirrorDoesNotFailThePrimary) {
  const std::string config = mirrored_to_sink();  // nothing listens on 9090
  start(config);
  EXPECT_EQ(versions(10)["v1"], 10);
}

std::string admin_get(sluice::test::NodeSim& node, const std::string& path) {
  auto r = node.in_node([&] { return sluice::http_get("127.0.0.1", kAdminPort, path, 1000ms); });
  return r.ok() ? r->second : "";
}

// Istio's circuit-breaking task: one connection, one pending request, five
// concurrent clients against a slow backend.
TEST_F(L7Test, CircuitBreakerOverflowGives503UO) {
  std::string config = bookinfo(route_with("    retries: {attempts: 0}\n"));
  const std::string dr = "  - {name: v3, labels: {version: v3}}\n";
  config.replace(config.find(dr), dr.size(),
                 dr + "  trafficPolicy:\n    connectionPool:\n      tcp: {maxConnections: 1}\n"
                      "      http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1}\n");
  start(config);
  std::atomic<int> ok{0}, overflow{0}, other{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 5; ++c) {
    clients.emplace_back([&] {
      for (int i = 0; i < 4; ++i) {
        HttpReply r = get("/reviews/1", "x-echo-delay-ms: 150\r\n");
        (r.status == 200 ? ok : r.status == 503 ? overflow : other)++;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_GT(ok.load(), 0);
  EXPECT_GT(overflow.load(), 0);
  EXPECT_EQ(other.load(), 0);
  EXPECT_TRUE(log_has("\"flags\":\"UO\""));
  // The admin API shows the daemon's half: the pending-request overflows.
  const std::string clusters = admin_get(*node_, "/clusters");
  const std::string pending = "\"pending_requests\":{\"active\":0,\"limit\":1,\"overflows\":";
  const size_t at = clusters.find(pending);
  ASSERT_NE(at, std::string::npos) << clusters;
  EXPECT_GT(std::atoi(clusters.c_str() + at + pending.size()), 0) << clusters;
}

TEST_F(L7Test, OutlierDetectionEjectsInTheDaemonAndTheKernelThenRestores) {
  start_echo(3, {"--status", "500", "--fail-percent", "100"});  // p3 answers 500
  std::string config = bookinfo(route_with("    retries: {attempts: 0}\n", kAllPods));
  const std::string dr = "  - {name: v3, labels: {version: v3}}\n";
  config.replace(config.find(dr), dr.size(),
                 dr + "  trafficPolicy:\n    outlierDetection:\n      consecutive5xxErrors: 1\n      interval: 1s\n"
                      "      baseEjectionTime: 3s\n      maxEjectionPercent: 100\n");
  start(config);
  // (start()'s readiness probe may already have met p3 and ejected it.)
  auto before = versions(30);
  EXPECT_LE(before["status:500"], 1) << "p3 fails once, then it is ejected";
  auto after = versions(30);
  EXPECT_EQ(after["status:500"], 0) << "the ejected pod gets no more requests";

  const std::string p3 = "\"address\":\"" + node_->pod_ip(3) + "\",\"port\":8080,\"weight\":1,\"ejected\":";
  auto kernel_mark_is = [&](const char* value, std::chrono::milliseconds limit) {
    for (auto end = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < end;) {
      if (admin_get(*node_, "/maps").find(p3 + value) != std::string::npos) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  };
  EXPECT_TRUE(kernel_mark_is("true", 2s)) << "marked in the kernel backend map: " << admin_get(*node_, "/maps");
  EXPECT_TRUE(kernel_mark_is("false", 8s)) << "restored after baseEjectionTime (3 s, ticked each 1 s interval)";
  EXPECT_TRUE(log_has("outlier: ejected " + node_->pod_ip(3)));
  EXPECT_TRUE(log_has("outlier: restored " + node_->pod_ip(3)));
}

// bookinfo's DestinationRule with a traffic policy added.
std::string with_policy(std::string config, const std::string& policy) {
  const std::string dr = "  - {name: v3, labels: {version: v3}}\n";
  return config.replace(config.find(dr), dr.size(), dr + "  trafficPolicy:\n" + policy);
}

TEST_F(L7Test, ConsistentHashOnAHeaderIsSticky) {
  start(with_policy(bookinfo(route_with("", kAllPods)),
                    "    loadBalancer:\n      consistentHash: {httpHeaderName: x-user}\n"));
  std::set<std::string> pods;
  for (int u = 0; u < 6; ++u) {
    std::set<std::string> seen;
    for (int i = 0; i < 8; ++i) {
      seen.insert(get("/reviews/1", "x-user: user-" + std::to_string(u) + "\r\n").headers["x-echo-pod"]);
    }
    EXPECT_EQ(seen.size(), 1u) << "user-" << u << " moved between pods";
    pods.insert(*seen.begin());
  }
  EXPECT_GT(pods.size(), 1u) << "six users should not all hash to one pod";
}

TEST_F(L7Test, ConsistentHashCookieIsSetAndSticky) {
  start(with_policy(bookinfo(route_with("", kAllPods)),
                    "    loadBalancer:\n      consistentHash: {httpCookie: {name: session, ttl: 60s, path: /}}\n"));
  HttpReply first = get("/reviews/1");
  ASSERT_FALSE(first.headers["set-cookie"].empty());
  EXPECT_NE(first.headers["set-cookie"].find("Max-Age=60"), std::string::npos);
  const std::string cookie = first.headers["set-cookie"].substr(0, first.headers["set-cookie"].find(';'));
  for (int i = 0; i < 10; ++i) {
    HttpReply r = get("/reviews/1", "cookie: " + cookie + "\r\n");
    EXPECT_EQ(r.headers["x-echo-pod"], first.headers["x-echo-pod"]);
    EXPECT_TRUE(r.headers["set-cookie"].empty()) << "no new cookie when the client has one";
  }
}

TEST_F(L7Test, LeastRequestPrefersTheFastPod) {
  start_echo(3, {"--delay-ms", "300"});  // p3 is slow
  start(with_policy(bookinfo(route_with("", kAllPods)), "    loadBalancer: {simple: LEAST_REQUEST}\n"));
  std::mutex mu;
  std::map<std::string, int> per_pod;
  std::vector<std::thread> clients;
  for (int c = 0; c < 6; ++c) {
    clients.emplace_back([&] {
      for (int i = 0; i < 12; ++i) {
        HttpReply r = get("/reviews/1");
        std::lock_guard lock(mu);
        ++per_pod[r.headers["x-echo-pod"]];
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_LT(per_pod["p3"], per_pod["p2"]);
  EXPECT_LT(per_pod["p3"], per_pod["p4"]);
  EXPECT_LT(per_pod["p3"], 72 / 5) << "round robin would give the slow pod a third";
}

// A WebSocket through the proxy: the Upgrade handshake, then frames both ways.
TEST_F(L7Test, WebSocketUpgradeIsTunnelled) {
  start(bookinfo(kJasonToV2));
  const WebSocketEcho ws = websocket_echo("hello");
  ASSERT_EQ(ws.head.substr(0, 12), "HTTP/1.1 101") << ws.head;
  EXPECT_NE(ws.head.find("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), std::string::npos) << "the backend's accept key comes through";
  EXPECT_EQ(ws.echoed, "hello");
}

// Established connections to p<i>:8080, counted inside the pod.
int upstream_connections(sluice::test::NodeSim& node, int pod) {
  const std::string cmd = "ip netns exec " + node.pod_ns(pod) + " ss -Htn state established '( sport = :8080 )'";
  FILE* p = popen(cmd.c_str(), "r");
  int lines = 0;
  char buf[512];
  while (p && fgets(buf, sizeof(buf), p)) ++lines;
  if (p) pclose(p);
  return lines;
}

TEST_F(L7Test, IdleUpstreamConnectionsCloseAfterIdleTimeout) {
  start(with_policy(bookinfo(route_with("")), "    connectionPool:\n      http: {idleTimeout: 1s}\n"));
  ASSERT_EQ(get("/reviews/1").status, 200u);
  EXPECT_GE(upstream_connections(*node_, 2), 1) << "the proxy keeps the upstream connection alive";
  bool closed = false;
  for (int i = 0; i < 40 && !closed; ++i) {
    std::this_thread::sleep_for(100ms);
    closed = upstream_connections(*node_, 2) == 0;
  }
  EXPECT_TRUE(closed) << "still open 4 s after a 1 s idleTimeout";
}

TEST_F(L7Test, AFaultWithoutAPercentageNeverFires) {
  start(bookinfo(route_with("    fault: {abort: {httpStatus: 500}}\n")));
  EXPECT_EQ(versions(20)["v1"], 20);
}

TEST_F(L7Test, WithoutAVirtualServiceTheServiceItselfIsTheRoute) {
  start(bookinfo(""));
  auto v = versions(30);
  EXPECT_EQ(v["v1"] + v["v2"] + v["v3"], 30) << "every request reaches one of the pods";
  HttpReply r = get("/reviews/1");
  EXPECT_FALSE(r.headers["x-echo-pod"].empty());
}

TEST_F(L7Test, HostileInputIsRejected) {
  start(bookinfo(kJasonToV2));
  HttpReply smuggle = request(
      "POST /reviews/1 HTTP/1.1\r\nHost: reviews\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(smuggle.status, 400u);
  HttpReply big = request("GET /reviews/1 HTTP/1.1\r\nHost: reviews\r\nX-Big: " + std::string(64 * 1024, 'a') +
                          "\r\n\r\n");
  EXPECT_EQ(big.status, 431u);
  HttpReply garbage = request("HELLO\r\n\r\n");
  EXPECT_EQ(garbage.status, 400u);
  // A slow client: half the headers, then silence.
  const auto t0 = std::chrono::steady_clock::now();
  HttpReply slow = request("GET /reviews/1 HTTP/1.1\r\nHost: rev");
  EXPECT_EQ(slow.status, 408u);
  EXPECT_LT(seconds_since(t0), 3.0);
  EXPECT_EQ(get("/reviews/1").status, 200u) << "the proxy still serves";
}

TEST_F(L7Test, WhenTheDaemonStopsHttpFallsBackToL4) {
  start(bookinfo(kJasonToV2));
  ASSERT_EQ(get("/other").status, 404u) << "routed by the proxy";
  node_->stop(daemon_);  // SIGTERM: the drain empties sl_proxy_lsn first
  daemon_ = -1;
  HttpReply r = get("/other");
  EXPECT_EQ(r.status, 200u) << "straight to a pod, balanced in the kernel";
  EXPECT_FALSE(r.headers["x-echo-pod"].empty());
}

}  // namespace
