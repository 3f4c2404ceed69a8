// gRPC through the L7 proxy on loopback, without root: a real ProxyServer in
// front of real gRPC servers (sluice-grpc-echo, built from Debian's
// libgrpc++ in test/tools/grpc_echo), called by the real gRPC client. The
// Service port is named "grpc", so the proxy speaks HTTP/2 upstream.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster_registry.h"
#include "h2_test_client.h"
#include "loopback_proxy.h"
#include "mirror_stats.h"
#include "proxy_server.h"
#include "request_metrics.h"
#include "snapshot_builder.h"

namespace sluice::proxy {
namespace {

using namespace std::chrono_literals;

constexpr uint32_t kGrpcVip = 0x0a60003c;  // 10.96.0.60, never dialled
constexpr uint16_t kServicePort = 50051;

// A child process whose stdout we read; killed (by its pid) and reaped on
// destruction.
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(out[1]);
    fd_ = out[0];
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status;
      ::waitpid(pid_, &status, 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Reads stdout until `line_prefix` starts a line (returned whole), or
  // the process ends, or `within` passes ("" then).
  std::string wait_line(const std::string& line_prefix, std::chrono::milliseconds within = 10s) {
    const auto until = std::chrono::steady_clock::now() + within;
    for (;;) {
      size_t start = 0;
      for (size_t nl; (nl = buf_.find('\n', start)) != std::string::npos; start = nl + 1) {
        if (buf_.compare(start, line_prefix.size(), line_prefix) == 0) return buf_.substr(start, nl - start);
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !fill(static_cast<int>(left.count()))) return "";
    }
  }
  // The lines starting with `line_prefix` once there are `n` of them, or
  // those there are after `within`.
  std::vector<std::string> wait_lines(const std::string& line_prefix, size_t n, std::chrono::milliseconds within = 10s) {
    const auto until = std::chrono::steady_clock::now() + within;
    for (;;) {
      std::vector<std::string> found;
      size_t start = 0;
      for (size_t nl; (nl = buf_.find('\n', start)) != std::string::npos; start = nl + 1) {
        if (buf_.compare(start, line_prefix.size(), line_prefix) == 0) found.push_back(buf_.substr(start, nl - start));
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (found.size() >= n || left.count() <= 0 || !fill(static_cast<int>(left.count()))) return found;
    }
  }
  // Everything it prints until it exits (bounded by `within`).
  std::string read_all(std::chrono::milliseconds within = 30s) {
    const auto until = std::chrono::steady_clock::now() + within;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !fill(static_cast<int>(left.count()))) return buf_;
    }
  }

 private:
  bool fill(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char chunk[4096];
    const ssize_t n = ::read(fd_, chunk, sizeof chunk);
    if (n <= 0) return false;
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string buf_;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    out.push_back(text.substr(start, nl - start));
  }
  return out;
}

size_t count_with(const std::vector<std::string>& lines, const std::string& needle) {
  size_t n = 0;
  for (const auto& l : lines) n += l.find(needle) != std::string::npos;
  return n;
}

// A gRPC message: the 5-byte frame head (not compressed, length) and the
// serialized protobuf.
std::string grpc_frame(const std::string& message) {
  std::string f(5, '\0');
  const uint32_t n = static_cast<uint32_t>(message.size());
  f[1] = static_cast<char>(n >> 24);
  f[2] = static_cast<char>(n >> 16);
  f[3] = static_cast<char>(n >> 8);
  f[4] = static_cast<char>(n);
  return f + message;
}

// EchoRequest{text: "hi"} and EchoRequest{delay_ms: 2000}, hand-encoded
// (field 1, length-delimited; field 3, varint 2000).
const std::string kHiRequest = grpc_frame(std::string("\x0a\x02hi", 4));
const std::string kSlowRequest = grpc_frame(std::string("\x18\xd0\x0f", 3));

// Two pods of grpc-echo (v1, v2), each a sluice-grpc-echo on its own
// loopback address and one shared port, behind the Service port "grpc".
class GrpcLoopbackTest : public ::testing::Test {
 protected:
  // `extra`: more flags for both servers (--tls-cert...).
  void start_servers(int v1_fail = 0, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> v1{SLUICE_GRPC_ECHO_PATH, "serve", "--listen", "127.0.0.20:0", "--version", "v1"};
    if (v1_fail) v1.insert(v1.end(), {"--fail", std::to_string(v1_fail)});
    v1.insert(v1.end(), extra.begin(), extra.end());
    servers_.push_back(std::make_unique<Child>(v1));
    const std::string listening = servers_.back()->wait_line("listening ");
    ASSERT_FALSE(listening.empty()) << "sluice-grpc-echo did not start";
    port_ = static_cast<uint16_t>(std::stoi(listening.substr(10)));
    std::vector<std::string> v2{SLUICE_GRPC_ECHO_PATH, "serve", "--listen", "127.0.0.21:" + std::to_string(port_),
                                "--version", "v2"};
    v2.insert(v2.end(), extra.begin(), extra.end());
    servers_.push_back(std::make_unique<Child>(v2));
    ASSERT_FALSE(servers_.back()->wait_line("listening ").empty());
  }

  void start_proxy(const std::string& istio, const std::string& port_name = "grpc") {
    std::string yaml = "apiVersion: v1\nkind: Service\nmetadata: {name: grpc-echo, namespace: default}\n"
                       "spec: {clusterIP: 10.96.0.60, selector: {app: grpc-echo}, ports: [{name: " + port_name +
                       ", port: " + std::to_string(kServicePort) + ", targetPort: " + std::to_string(port_) +
                       "}]}\n---\n";
    for (int i = 1; i <= 2; ++i) {
      yaml += "apiVersion: v1\nkind: Pod\nmetadata: {name: grpc-echo-" + std::to_string(i) +
              ", namespace: default, labels: {app: grpc-echo, version: v" + std::to_string(i) +
              "}}\nstatus: {phase: Running, podIP: 127.0.0." + std::to_string(19 + i) + "}\n---\n";
    }
    yaml += istio;
    snapshot_ = snapshot_from_yaml(yaml);
    ASSERT_TRUE(snapshot_);
    ProxyOptions o = loopback_options(snapshot_, log_);
    o.original_destination = [](uint32_t, uint16_t, uint16_t) {
      return std::optional<OriginalDestination>(OriginalDestination{kGrpcVip, kServicePort, 6, 0});
    };
    metrics_ = std::make_shared<telemetry::RequestMetrics>();
    o.metrics = metrics_;
    auto p = ProxyServer::start(std::move(o));
    ASSERT_TRUE(p.ok()) << p.error().to_string();
    proxy_ = std::move(*p);
  }

  void TearDown() override {
    if (proxy_) proxy_->stop();
    servers_.clear();
  }

  // The gRPC client through the proxy: one line per call.
  std::vector<std::string> call(std::vector<std::string> args) {
    std::vector<std::string> argv{SLUICE_GRPC_ECHO_PATH, "call", "--target",
                                  "127.0.0.1:" + std::to_string(proxy_->port())};
    argv.insert(argv.end(), args.begin(), args.end());
    Child client(argv);
    return lines_of(client.read_all());
  }

  // `calls` lines, each holding both `a` and `b`.
  void expect_every_call(const std::vector<std::string>& args, size_t calls, const std::string& a, const std::string& b) {
    const auto lines = call(args);
    ASSERT_EQ(lines.size(), calls);
    for (const auto& l : lines) EXPECT_TRUE(l.find(a) != std::string::npos && l.find(b) != std::string::npos) << l;
  }

  bool log_has(const std::string& needle) {
    const auto until = std::chrono::steady_clock::now() + 3s;  // lines are written as streams end
    for (;;) {
      {
        std::lock_guard lock(log_.mu);
        for (const auto& l : log_.lines) {
          if (l.find(needle) != std::string::npos) return true;
        }
      }
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(10ms);
    }
  }

  // istio_requests_total summed over the series whose labels hold every one
  // of `parts`; waits until it reaches `want` (completions are recorded as
  // streams end), or 3 s.
  uint64_t requests_with(const std::vector<std::string>& parts, uint64_t want) {
    const auto until = std::chrono::steady_clock::now() + 3s;
    for (;;) {
      telemetry::ExpositionWriter w(telemetry::ExpositionFormat::kText004);
      metrics_->write(w);
      const std::string text = std::move(w).finish();
      uint64_t n = 0;
      for (const auto& line : lines_of(text)) {
        if (line.rfind("istio_requests_total{", 0) != 0) continue;
        bool all = true;
        for (const auto& p : parts) all = all && line.find(p) != std::string::npos;
        if (all) n += std::stoull(line.substr(line.rfind(' ') + 1));
      }
      if (n >= want || std::chrono::steady_clock::now() > until) return n;
      std::this_thread::sleep_for(10ms);
    }
  }

  int connect_proxy() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(proxy_->port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    return fd;
  }

  uint16_t port_ = 0;
  std::vector<std::unique_ptr<Child>> servers_;
  std::unique_ptr<ProxyServer> proxy_;
  std::shared_ptr<telemetry::RequestMetrics> metrics_;
  config::SnapshotPtr snapshot_;
  KeptLog log_;
};

constexpr const char* kSubsets = R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: grpc-echo, namespace: default}
spec:
  host: grpc-echo
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
)";

// A VirtualService for grpc-echo whose one http route is `route` (YAML
// under `http: - `, indented by four).
std::string virtual_service(const std::string& route) {
  return std::string(kSubsets) +
         "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: grpc-echo, namespace: default}\n"
         "spec:\n  hosts: [grpc-echo]\n  http:\n  - " + route + "\n";
}

TEST_F(GrpcLoopbackTest, UnaryCallsReachTheH2BackendOverOneMultiplexedConnection) {
  start_servers();
  start_proxy("");
  const auto lines = call({"--method", "unary", "--calls", "20", "--text", "ping"});
  ASSERT_EQ(lines.size(), 20u);
  EXPECT_EQ(count_with(lines, "ok version=v"), 20u) << lines.front();
  EXPECT_EQ(count_with(lines, "text=ping"), 20u);
  EXPECT_TRUE(log_has("\"protocol\":\"HTTP/2\""));
  // Istio's labels of a gRPC call: the protocol, and the status from the trailers.
  EXPECT_EQ(requests_with({R"(request_protocol="grpc")", R"(response_code="200")", R"(grpc_response_status="0")",
                           R"(destination_service="grpc-echo.default.svc.cluster.local")"},
                          20),
            20u);
}

TEST_F(GrpcLoopbackTest, ServerStreamingRelaysEveryMessageInOrder) {
  start_servers();
  start_proxy("");
  // 2000 replies are several flow-control windows of DATA, relayed as they come.
  const auto lines = call({"--method", "stream", "--count", "2000", "--calls", "3"});
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(count_with(lines, "ok version=v"), 3u) << lines.front();
  EXPECT_EQ(count_with(lines, "replies=2000"), 3u) << lines.front();
}

TEST_F(GrpcLoopbackTest, BidiCallWithWholeRequestIsAnsweredMessageByMessage) {
  start_servers();
  start_proxy("");
  const auto lines = call({"--method", "bidi", "--count", "5", "--calls", "2"});
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(count_with(lines, "replies=5"), 2u) << lines.front();
}

// Client streaming far past the retry buffer: the messages go upstream as
// they come, under flow control (4 MB in 40 messages, twice on one channel).
TEST_F(GrpcLoopbackTest, ClientStreamingOfMegabytesIsStreamedUpstream) {
  start_servers();
  start_proxy("");
  expect_every_call({"--method", "upload", "--count", "40", "--size", "100000", "--calls", "2"}, 2,
                    "ok version=v", "replies=40 text=4000000");
  // 40 messages of 5 (gRPC frame) + 1 (tag) + 3 (length) + 100000 bytes.
  EXPECT_TRUE(log_has("\"request_bytes\":4000360"));
}

// An interleaved bidi call: each message waits for the reply to the last, so
// it works only when the request body is relayed as it arrives.
TEST_F(GrpcLoopbackTest, PingPongBidiCallIsRelayedMessageByMessage) {
  start_servers();
  start_proxy("");
  expect_every_call({"--method", "pingpong", "--count", "300", "--calls", "2"}, 2, "ok version=v", "replies=300");
}

TEST_F(GrpcLoopbackTest, WeightedRoutingSplitsCallsAcrossVersions) {
  start_servers();
  start_proxy(virtual_service(
      "route:\n    - {destination: {host: grpc-echo, subset: v1}, weight: 50}\n"
      "    - {destination: {host: grpc-echo, subset: v2}, weight: 50}"));
  const auto lines = call({"--method", "unary", "--calls", "100"});
  ASSERT_EQ(lines.size(), 100u);
  const size_t v1 = count_with(lines, "version=v1");
  const size_t v2 = count_with(lines, "version=v2");
  EXPECT_EQ(v1 + v2, 100u);
  // 50/50 over 100 calls: outside [20, 80] has a probability below 1e-9.
  EXPECT_GE(v1, 20u);
  EXPECT_GE(v2, 20u);
}

TEST_F(GrpcLoopbackTest, UnavailableFromOnePodIsRetriedOnTheOther) {
  start_servers(/*v1_fail=*/14);
  start_proxy(virtual_service(
      "route:\n    - destination: {host: grpc-echo}\n    retries: {attempts: 3, retryOn: unavailable}"));
  const auto lines = call({"--method", "unary", "--calls", "20"});
  ASSERT_EQ(lines.size(), 20u);
  EXPECT_EQ(count_with(lines, "ok version=v2"), 20u) << lines.front();
  EXPECT_TRUE(log_has("\"attempts\":2"));  // some first attempts went to v1
}

TEST_F(GrpcLoopbackTest, WithoutRetriesTheUpstreamGrpcStatusPassesThrough) {
  start_servers(/*v1_fail=*/14);
  start_proxy(virtual_service("route:\n    - destination: {host: grpc-echo, subset: v1}\n    retries: {attempts: 0}"));
  const auto lines = call({"--method", "unary", "--calls", "3"});
  ASSERT_EQ(lines.size(), 3u);
  // grpc-status and grpc-message of the server's trailers-only answer.
  EXPECT_EQ(count_with(lines, "status=14 message=failing on purpose (v1)"), 3u) << lines.front();
  // A trailers-only answer: the status comes from the response headers.
  EXPECT_EQ(requests_with({R"(request_protocol="grpc")", R"(response_code="200")", R"(grpc_response_status="14")",
                           R"(destination_workload="grpc-echo-1")"},
                          3),
            3u);
}

TEST_F(GrpcLoopbackTest, FaultAbortWithGrpcStatusIsATrailersOnlyAnswer) {
  start_servers();
  start_proxy(virtual_service(
      "route:\n    - destination: {host: grpc-echo}\n    fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 100}}}"));
  const auto lines = call({"--method", "unary", "--calls", "2"});
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(count_with(lines, "status=14 message=fault filter abort"), 2u) << lines.front();
  EXPECT_TRUE(log_has("\"flags\":\"FI\""));
  EXPECT_EQ(requests_with({R"(request_protocol="grpc")", R"(grpc_response_status="14")", R"(response_flags="FI")"}, 2),
            2u);
}

TEST_F(GrpcLoopbackTest, Http2MaxRequestsOverflowAnswersUnavailable) {
  start_servers();
  start_proxy(std::string("apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
                          "metadata: {name: grpc-echo, namespace: default}\nspec:\n  host: grpc-echo\n"
                          "  trafficPolicy: {connectionPool: {http: {http2MaxRequests: 1}}}\n"));
  // One call holds the cluster's only request slot for 3 s...
  Child slow({SLUICE_GRPC_ECHO_PATH, "call", "--target", "127.0.0.1:" + std::to_string(proxy_->port()), "--method",
              "unary", "--delay-ms", "3000"});
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (proxy_->clusters()->to_json().find("\"requests\":{\"active\":1,\"limit\":1,") == std::string::npos &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(10ms);
  }
  // ... so the next overflows: 503 UO, which a gRPC client reads as UNAVAILABLE.
  const auto lines = call({"--method", "unary", "--calls", "1"});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind("status=14 message=", 0), 0u) << lines[0];
  EXPECT_TRUE(log_has("\"flags\":\"UO\""));
  EXPECT_NE(slow.wait_line("ok version="), "") << "the call holding the slot succeeds";
}

TEST_F(GrpcLoopbackTest, GrpcTimeoutHeaderBoundsTheCallWithoutARouteTimeout) {
  start_servers();
  start_proxy("");
  // No client-side deadline here: only the proxy can end the call early.
  const int fd = connect_proxy();
  test::H2TestClient h2;
  const int32_t id = h2.request("POST", "/sluice.testing.Echo/Unary", "grpc-echo",
                                {{"content-type", "application/grpc"}, {"te", "trailers"}, {"grpc-timeout", "200m"}},
                                true, &kSlowRequest);
  ASSERT_TRUE(h2.pump(fd, [&] { return h2.stream(id).closed; }, 10s));
  auto& s = h2.stream(id);
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.headers["content-type"], "application/grpc");
  EXPECT_EQ(s.headers["grpc-status"], "14");  // Envoy's mapping of its 504 for gRPC
  EXPECT_EQ(s.headers["grpc-message"], "upstream request timeout");
  EXPECT_TRUE(log_has("\"flags\":\"UT\""));
  ::close(fd);
}

TEST_F(GrpcLoopbackTest, Http1ClientReachesTheH2Backend) {
  start_servers();
  start_proxy("");
  const int fd = connect_proxy();
  const std::string req = "POST /sluice.testing.Echo/Unary HTTP/1.1\r\nHost: grpc-echo\r\n"
                          "Content-Type: application/grpc\r\nTE: trailers\r\nConnection: close\r\n"
                          "Content-Length: " + std::to_string(kHiRequest.size()) + "\r\n\r\n" + kHiRequest;
  ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  std::string reply;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) reply.append(buf, static_cast<size_t>(n));
  ::close(fd);
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
  EXPECT_NE(reply.find("Transfer-Encoding: chunked"), std::string::npos) << reply;
  // The EchoReply message: text "hi" and the answering version.
  EXPECT_NE(reply.find("hi"), std::string::npos);
  EXPECT_TRUE(reply.find("v1") != std::string::npos || reply.find("v2") != std::string::npos) << reply;
  // gRPC by its content-type, whatever the framing; the trailers it did not get still count.
  EXPECT_EQ(requests_with({R"(request_protocol="grpc")", R"(grpc_response_status="0")"}, 1), 1u);
}

TEST_F(GrpcLoopbackTest, H2UpgradePolicyUpgradesAnHttpPort) {
  start_servers();
  // Port named "http": HTTP/1.1 upstream unless the DestinationRule upgrades.
  start_proxy(std::string("apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
                          "metadata: {name: grpc-echo, namespace: default}\nspec:\n  host: grpc-echo\n"
                          "  trafficPolicy: {connectionPool: {http: {h2UpgradePolicy: UPGRADE}}}\n"),
              "http");
  const auto lines = call({"--method", "unary", "--calls", "3"});
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(count_with(lines, "ok version=v"), 3u) << lines.front();
}

// A second gRPC Service, `name` at 10.96.0.<vip_octet>:50051, one pod at
// `pod_ip` whose server listens on `target_port`.
std::string grpc_service(const std::string& name, int vip_octet, const std::string& pod_ip, uint16_t target_port) {
  return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name + ", namespace: default}\n"
         "spec: {clusterIP: 10.96.0." + std::to_string(vip_octet) + ", selector: {app: " + name +
         "}, ports: [{name: grpc, port: " + std::to_string(kServicePort) + ", targetPort: " +
         std::to_string(target_port) + "}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: " + name +
         "-1, namespace: default, labels: {app: " + name + "}}\nstatus: {phase: Running, podIP: " + pod_ip +
         "}\n---\n";
}

std::string mirrored_to(const std::string& host) {
  return virtual_service("route:\n    - destination: {host: grpc-echo}\n    mirror: {host: " + host +
                         "}\n    mirrorPercentage: {value: 100}");
}

uint64_t mirror_count(const std::atomic<uint64_t>& c) { return c.load(); }

// The mirror's port is "grpc": copies go over HTTP/2, unary calls with their
// body whole and client-streaming calls teed message by message as they
// arrive, with the Host (:authority) Envoy gives a shadow.
TEST_F(GrpcLoopbackTest, MirrorGetsUnaryAndClientStreamingCallsOverH2) {
  start_servers();
  Child mirror({SLUICE_GRPC_ECHO_PATH, "serve", "--listen", "127.0.0.22:0", "--version", "mirror", "--log-calls", "1"});
  const std::string listening = mirror.wait_line("listening ");
  ASSERT_FALSE(listening.empty());
  const auto mirror_port = static_cast<uint16_t>(std::stoi(listening.substr(10)));
  const uint64_t sent_before = mirror_count(MirrorStats::global().sent_http2);
  start_proxy(grpc_service("grpc-mirror", 61, "127.0.0.22", mirror_port) + mirrored_to("grpc-mirror"));
  expect_every_call({"--method", "unary", "--calls", "5", "--text", "ping"}, 5, "ok version=v", "text=ping");
  // 200 kB in 10 messages: past the retry buffer and the mirror's first window.
  expect_every_call({"--method", "upload", "--count", "10", "--size", "20000", "--calls", "1"}, 1, "ok version=v",
                    "replies=10 text=200000");
  const auto unary = mirror.wait_lines("call method=Unary", 5);
  ASSERT_EQ(unary.size(), 5u);
  for (const auto& l : unary) {
    EXPECT_NE(l.find("-shadow"), std::string::npos) << l;
    EXPECT_NE(l.find("bytes=4"), std::string::npos) << l;  // "ping"
  }
  const auto upload = mirror.wait_lines("call method=Upload", 1);
  ASSERT_EQ(upload.size(), 1u);
  EXPECT_NE(upload[0].find("messages=10 bytes=200000"), std::string::npos) << upload[0];
  EXPECT_GE(mirror_count(MirrorStats::global().sent_http2) - sent_before, 6u);
}

// A mirror that accepts connections and never reads: the calls complete as
// without a mirror, and a streamed copy that falls past the lag budget is
// dropped (counted) rather than buffered or waited for.
TEST_F(GrpcLoopbackTest, ABlackholedMirrorNeitherSlowsNorFailsTheCall) {
  start_servers();
  const Blackhole hole("127.0.0.23");
  ASSERT_NE(hole.port, 0);
  const uint64_t lagging_before = mirror_count(MirrorStats::global().lagging);
  start_proxy(grpc_service("grpc-hole", 62, "127.0.0.23", hole.port) + mirrored_to("grpc-hole"));
  expect_every_call({"--method", "unary", "--calls", "5"}, 5, "ok version=v", "replies=");
  // 4 MB each: far past what the hole's windows and the lag budget let through.
  expect_every_call({"--method", "upload", "--count", "40", "--size", "100000", "--calls", "2"}, 2, "ok version=v",
                    "replies=40 text=4000000");
  // Both copies were dropped by the time their calls ended (the client's
  // last byte went through the tee before the call could end).
  EXPECT_GE(mirror_count(MirrorStats::global().lagging) - lagging_before, 2u);
  EXPECT_TRUE(log_has("\"request_bytes\":4000360"));
  proxy_->stop();
}

TEST_F(GrpcLoopbackTest, WithoutH2ToTheBackendAGrpcServerCannotBeReached) {
  start_servers();
  start_proxy("", "http");  // HTTP/1.1 upstream: the gRPC server refuses it
  const auto lines = call({"--method", "unary", "--calls", "1"});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(count_with(lines, "ok"), 0u) << lines.front();
}

// HTTP/2 upstream over TLS (DestinationRule tls SIMPLE/MUTUAL on a grpc
// port): sluice-grpc-echo serves gRPC over TLS (gRPC's TLS server, ALPN h2)
// with a certificate from a CA made here; the client speaks h2c to the
// proxy, the proxy originates TLS with ALPN h2. docs/egress.md.
class GrpcTlsLoopbackTest : public GrpcLoopbackTest {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-grpc-tls-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    const std::string d = "cd " + dir_ + " && ";
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string sign = " -CA ca.crt -CAkey ca.key -CAcreateserial -days 1";
    for (const std::string& step :
         {d + "openssl req -x509" + ec + " -days 1 -subj /CN=sluice-test-ca -keyout ca.key -out ca.crt",
          d + "openssl req -x509" + ec + " -days 1 -subj /CN=sluice-wrong-ca -keyout wrong.key -out wrong-ca.crt",
          // The names the proxy checks by default: each destination's host.
          d + "printf 'subjectAltName=DNS:grpc-echo.default.svc.cluster.local,"
              "DNS:grpc-mirror.default.svc.cluster.local\\n' > san.ext",
          d + "openssl req" + ec + " -subj /CN=grpc-echo -keyout srv.key -out srv.csr",
          d + "openssl x509 -req -in srv.csr" + sign + " -extfile san.ext -out srv.crt",
          d + "openssl req" + ec + " -subj /CN=sluice-client -keyout client.key -out client.csr",
          d + "openssl x509 -req -in client.csr" + sign + " -out client.crt"}) {
      ASSERT_EQ(std::system(("(" + step + ") >/dev/null 2>&1").c_str()), 0) << step;
    }
  }
  void TearDown() override {
    GrpcLoopbackTest::TearDown();
    if (HasFailure()) {
      std::lock_guard lock(log_.mu);
      for (const auto& l : log_.lines) std::cerr << "access log: " << l << "\n";
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::vector<std::string> tls_server_flags() const {
    return {"--tls-cert", dir_ + "/srv.crt", "--tls-key", dir_ + "/srv.key"};
  }
  // A DestinationRule for `host` whose trafficPolicy.tls has these fields.
  std::string tls_rule(const std::string& fields, const std::string& host = "grpc-echo") const {
    return "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: " + host +
           "-tls, namespace: default}\nspec:\n  host: " + host + "\n  trafficPolicy:\n    tls: {" + fields + "}\n---\n";
  }
  std::string simple() const { return "mode: SIMPLE, caCertificates: " + dir_ + "/ca.crt"; }

  std::string dir_;
};

TEST_F(GrpcTlsLoopbackTest, UnaryAndServerStreamingCallsReachAGrpcServerOverTls) {
  start_servers(0, tls_server_flags());
  start_proxy(tls_rule(simple()));
  expect_every_call({"--method", "unary", "--calls", "10", "--text", "ping"}, 10, "ok version=v", "text=ping");
  // 2000 replies: many TLS records and flow-control windows, relayed as they come.
  expect_every_call({"--method", "stream", "--count", "2000", "--calls", "2"}, 2, "ok version=v", "replies=2000");
  expect_every_call({"--method", "bidi", "--count", "5", "--calls", "1"}, 1, "ok version=v", "replies=5");
  EXPECT_TRUE(log_has("\"protocol\":\"HTTP/2\""));
  EXPECT_EQ(requests_with({R"(request_protocol="grpc")", R"(grpc_response_status="0")"}, 13), 13u);
}

TEST_F(GrpcTlsLoopbackTest, AWrongCaFailsWithUnavailableAndTheVerifyReason) {
  start_servers(0, tls_server_flags());
  start_proxy(tls_rule("mode: SIMPLE, caCertificates: " + dir_ + "/wrong-ca.crt"));
  const auto lines = call({"--method", "unary", "--calls", "1"});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("status=14"), std::string::npos) << lines[0];
  EXPECT_TRUE(log_has("\"flags\":\"UF\""));
  EXPECT_TRUE(log_has("certificate verify failed"));
}

// An HTTPS server (openssl s_server) that does not speak h2. With no ALPN
// of its own it ignores the offer: the handshake completes, and the proxy
// ends the connection before any HTTP/2 byte. With `-alpn http/1.1` it ends
// the handshake itself (RFC 7301's no_application_protocol alert).
TEST_F(GrpcTlsLoopbackTest, AServerThatDoesNotSelectH2InAlpnIsATransportFailure) {
  for (const auto& [alpn, reason] :
       std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{}, "\"upstream_transport_failure_reason\":\"TLS_error: ALPN: the server did not select h2 (it selected none)\""},
           {{"-alpn", "http/1.1"}, "\"upstream_transport_failure_reason\":\"TLS_error: tlsv1 alert no application protocol"}}) {
    // One on each pod's address (127.0.0.20 and .21), on one port.
    std::vector<std::unique_ptr<Child>> https;
    for (const std::string ip : {"127.0.0.20", "127.0.0.21"}) {
      const std::string address = ip + ":" + (https.empty() ? "0" : std::to_string(port_));
      std::vector<std::string> argv{"/usr/bin/openssl", "s_server", "-accept", address, "-cert", dir_ + "/srv.crt",
                                    "-key", dir_ + "/srv.key", "-www"};
      argv.insert(argv.end(), alpn.begin(), alpn.end());
      https.push_back(std::make_unique<Child>(argv));
      // "ACCEPT 127.0.0.20:PORT" for port 0, a bare "ACCEPT" for a given one.
      const std::string accept = https.back()->wait_line("ACCEPT");
      ASSERT_FALSE(accept.empty()) << "s_server did not start on " << address;
      if (https.size() == 1) port_ = static_cast<uint16_t>(std::stoi(accept.substr(accept.rfind(':') + 1)));
    }
    start_proxy(tls_rule(simple()));
    const auto lines = call({"--method", "unary", "--calls", "1"});
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("status=14"), std::string::npos) << lines[0];
    EXPECT_TRUE(log_has("\"flags\":\"UF\""));
    EXPECT_TRUE(log_has(reason)) << reason;
    proxy_->stop();
    proxy_.reset();
  }
}

TEST_F(GrpcTlsLoopbackTest, MutualTlsPresentsTheClientCertificate) {
  std::vector<std::string> flags = tls_server_flags();
  flags.insert(flags.end(), {"--tls-client-ca", dir_ + "/ca.crt"});
  start_servers(0, flags);
  // Without a client certificate the server refuses the handshake.
  start_proxy(tls_rule(simple()));
  const auto refused = call({"--method", "unary", "--calls", "1"});
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_NE(refused[0].find("status=14"), std::string::npos) << refused[0];
  proxy_->stop();
  proxy_.reset();
  start_proxy(tls_rule("mode: MUTUAL, caCertificates: " + dir_ + "/ca.crt, clientCertificate: " + dir_ +
                       "/client.crt, privateKey: " + dir_ + "/client.key"));
  expect_every_call({"--method", "unary", "--calls", "3", "--text", "mtls"}, 3, "ok version=v", "text=mtls");
}

// An HTTP/2 mirror whose destination originates TLS: the copies take the
// pooled h2 connections, over TLS like the calls.
TEST_F(GrpcTlsLoopbackTest, AMirrorToAGrpcDestinationOverTlsGetsTheCopies) {
  start_servers(0, tls_server_flags());
  std::vector<std::string> argv{SLUICE_GRPC_ECHO_PATH, "serve", "--listen", "127.0.0.22:0", "--version", "mirror",
                                "--log-calls", "1"};
  for (const auto& f : tls_server_flags()) argv.push_back(f);
  Child mirror(argv);
  const std::string listening = mirror.wait_line("listening ");
  ASSERT_FALSE(listening.empty());
  const auto mirror_port = static_cast<uint16_t>(std::stoi(listening.substr(10)));
  start_proxy(grpc_service("grpc-mirror", 61, "127.0.0.22", mirror_port) + tls_rule(simple()) +
              tls_rule(simple(), "grpc-mirror") + mirrored_to("grpc-mirror"));
  expect_every_call({"--method", "unary", "--calls", "3", "--text", "ping"}, 3, "ok version=v", "text=ping");
  const auto copies = mirror.wait_lines("call method=Unary", 3);
  ASSERT_EQ(copies.size(), 3u);
  for (const auto& l : copies) EXPECT_NE(l.find("-shadow"), std::string::npos) << l;
}

}  // namespace
}  // namespace sluice::proxy
