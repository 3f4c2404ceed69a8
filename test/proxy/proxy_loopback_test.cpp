// The L7 proxy on loopback, without root: a real ProxyServer and real
// sluice-echo backends on 127.0.0.x, real sockets, with only the kernel's
// part injected (the original destination every connection dialled). The
// kernel path of the same features is covered by test/e2e/l7_test.cpp.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "echo_reply.h"
#include "echo_server.h"
#include "otlp_receiver.h"
#include "h2_test_backend.h"
#include "h2_test_client.h"
#include "mirror_stats.h"
#include "proxy_limits.h"
#include "h2_stats.h"
#include "loopback_proxy.h"
#include "proxy_server.h"
#include "request_metrics.h"
#include "snapshot_builder.h"

namespace sluice::proxy {
namespace {

using namespace std::chrono_literals;

constexpr uint32_t kWebVip = 0x0a600032;     // 10.96.0.50: web, never dialled
constexpr uint32_t kShadowVip = 0x0a600033;  // 10.96.0.51: shadow

// A whole HTTP/1.1 response, or what arrived before the connection ended.
struct Reply {
  unsigned status = 0;
  std::string head;
  std::string body;
  bool closed = false;  // the proxy closed the connection after it
};

class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~Client() { close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  void send(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Reads one response: headers, then a Content-Length body or until close.
  Reply read_reply() {
    Reply r;
    size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) {
        r.closed = true;
        return r;
      }
    }
    r.head = buf_.substr(0, head_end + 4);
    buf_.erase(0, head_end + 4);
    if (r.head.size() > 12) r.status = static_cast<unsigned>(std::atoi(r.head.c_str() + 9));
    const size_t cl = lower(r.head).find("content-length:");
    if (cl != std::string::npos) {
      const size_t want = std::strtoul(r.head.c_str() + cl + 15, nullptr, 10);
      while (buf_.size() < want && fill()) {
      }
      r.body = buf_.substr(0, want);
      buf_.erase(0, std::min(want, buf_.size()));
    } else {
      while (fill()) {
      }
      r.body = std::move(buf_);
      buf_.clear();
    }
    r.closed = lower(r.head).find("connection: close") != std::string::npos;
    return r;
  }
  // Whether the peer closed the connection (read returns 0) within the
  // receive timeout.
  bool closed_by_peer() {
    char c;
    return ::recv(fd_, &c, 1, 0) == 0;
  }

 private:
  static std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  bool fill() {
    char chunk[16384];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

// A Service `name` at `vip` (port 80 named `port_name`) with one pod at
// `pod_ip` listening on `target_port`.
std::string http_service(const std::string& name, const std::string& vip, const std::string& pod_ip,
                         const std::string& port_name, uint16_t target_port) {
  return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name + ", namespace: default}\nspec: {clusterIP: " +
         vip + ", selector: {app: " + name + "}, ports: [{name: " + port_name + ", port: 80, targetPort: " +
         std::to_string(target_port) + "}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: " + name +
         "-1, namespace: default, labels: {app: " + name + "}}\nstatus: {phase: Running, podIP: " + pod_ip +
         "}\n---\n";
}

std::string get(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: web\r\n" + extra + "\r\n";
}

// Three pods of web (v1, v2, v3) and one of shadow, each a sluice-echo on
// its own loopback address and one shared port, with the proxy in front.
class ProxyLoopbackTest : public ::testing::Test {
 protected:
  static constexpr int kPods = 4;

  void SetUp() override {
    for (int i = 0; i < kPods; ++i) {
      EchoOptions o;
      o.listen = "127.0.0." + std::to_string(10 + i) + ":" + std::to_string(backend_port_);
      o.name = i < 3 ? "web-" + std::to_string(i + 1) : "shadow-1";
      o.version = i < 3 ? "v" + std::to_string(i + 1) : "v1";
      o.log = false;
      if (i == broken_pod_) o.status = 503;
      auto echo = EchoServer::start(o);
      ASSERT_TRUE(echo.ok()) << echo.error().to_string();
      if (i == 0) backend_port_ = (*echo)->port();
      echoes_.push_back(std::move(*echo));
    }
  }

  void TearDown() override {
    if (proxy_) proxy_->stop();
    for (auto& e : echoes_) e->stop();
  }

  // Starts the proxy on the Services, Pods and DestinationRule above plus
  // `istio` (more YAML documents).
  void start(const std::string& istio, std::chrono::milliseconds header_timeout = 10s) {
    std::string yaml;
    for (const auto& [name, vip] : {std::pair{"web", "10.96.0.50"}, std::pair{"shadow", "10.96.0.51"}}) {
      yaml += std::string("apiVersion: v1\nkind: Service\nmetadata: {name: ") + name +
              ", namespace: default}\nspec: {clusterIP: " + vip + ", selector: {app: " + name +
              "}, ports: [{name: http, port: 80, targetPort: " + std::to_string(backend_port_) + "}]}\n---\n";
    }
    for (int i = 0; i < kPods; ++i) {
      const bool web = i < 3;
      yaml += "apiVersion: v1\nkind: Pod\nmetadata: {name: " + std::string(web ? "web-" : "shadow-") +
              std::to_string(web ? i + 1 : 1) + ", namespace: default, labels: {app: " + (web ? "web" : "shadow") +
              ", version: v" + std::to_string(web ? i + 1 : 1) + "}}\nstatus: {phase: Running, podIP: 127.0.0." +
              std::to_string(10 + i) + "}\n---\n";
    }
    yaml += istio;
    snapshot_ = snapshot_from_yaml(yaml);
    ASSERT_TRUE(snapshot_);
    ProxyOptions o = loopback_options(snapshot_, log_);
    o.header_timeout = header_timeout;
    o.original_destination = [this](uint32_t, uint16_t, uint16_t) {
      return std::optional<OriginalDestination>(OriginalDestination{dialled_.load(), 80, 6, 0});
    };
    o.metrics = metrics_;
    o.tracing = tracing_;
    auto p = ProxyServer::start(std::move(o));
    ASSERT_TRUE(p.ok()) << p.error().to_string();
    proxy_ = std::move(*p);
  }

  Reply request(const std::string& bytes) {
    Client c(proxy_->port());
    EXPECT_TRUE(c.connected());
    c.send(bytes);
    return c.read_reply();
  }

  bool log_has(const std::string& needle) {
    std::lock_guard lock(log_.mu);
    for (const auto& l : log_.lines) {
      if (l.find(needle) != std::string::npos) return true;
    }
    return false;
  }
  size_t log_lines() {
    std::lock_guard lock(log_.mu);
    return log_.lines.size();
  }
  // Waits (bounded) for a condition that another thread makes true.
  template <class F>
  static bool eventually(F f, std::chrono::milliseconds within = 3s) {
    const auto until = std::chrono::steady_clock::now() + within;
    while (!f()) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }

  // Tracing on for the next start(), to `receiver`, sampling only what the
  // client sampled.
  void trace_to(const OtlpReceiver& receiver) {
    auto exporter = telemetry::SpanExporter::start({.url = receiver.url(), .flush_interval = 20ms});
    ASSERT_TRUE(exporter.ok()) << exporter.error().to_string();
    tracing_ = {std::shared_ptr<telemetry::SpanExporter>(std::move(*exporter)), 0.0, "sluiced~127.0.0.1~test"};
  }

  // An h2 echo server on 127.0.0.30 with flow-control windows `window`
  // (what it sees lands in h2_seen_), and the Service `shadow2` (port http2)
  // in front of it.
  std::string h2_mirror(test::H2Window window) {
    h2_mirror_ = std::make_unique<test::H2TestBackend>(
        "127.0.0.30", [this, window](int fd, const std::atomic<bool>& stop) {
          test::serve_h2_echo_to(fd, stop, &h2_seen_, window);
        });
    EXPECT_NE(h2_mirror_->port(), 0);
    return http_service("shadow2", "10.96.0.52", "127.0.0.30", "http2", h2_mirror_->port());
  }

  // POSTs `body` to web (chunked, or with its Content-Length) in pieces of
  // 100 kB, each once `mirror_got` (the bytes the mirror has read so far)
  // shows the mirror nearly caught up: the primary takes each piece at once,
  // so however little CPU the mirror's test thread gets, its copy never lags
  // the budget and is not dropped.
  Reply post_paced(const std::string& body, bool chunked, const std::function<uint64_t()>& mirror_got) {
    constexpr size_t kPiece = 100 * 1000;
    Client c(proxy_->port());
    EXPECT_TRUE(c.connected());
    c.send("POST /upload HTTP/1.1\r\nHost: web\r\n" +
           (chunked ? std::string("Transfer-Encoding: chunked") : "Content-Length: " + std::to_string(body.size())) +
           "\r\n\r\n");
    char size_line[24];
    for (size_t at = 0; at < body.size(); at += kPiece) {
      const size_t n = std::min(kPiece, body.size() - at);
      std::snprintf(size_line, sizeof size_line, "%zx\r\n", n);
      c.send((chunked ? std::string(size_line) : "") + body.substr(at, n) + (chunked ? "\r\n" : ""));
      // What the feed holds back is under one piece of its own (16 KiB).
      eventually([&] { return mirror_got() + kRelayChunkBytes >= at + n; });
    }
    if (chunked) c.send("0\r\n\r\n");
    return c.read_reply();
  }

  test::H2Seen h2_seen_;  // outlives h2_mirror_'s threads
  std::unique_ptr<test::H2TestBackend> h2_mirror_;
  uint16_t backend_port_ = 0;
  int broken_pod_ = -1;  // set before SetUp runs (in a derived fixture) to make a pod answer 503
  std::vector<std::unique_ptr<EchoServer>> echoes_;
  std::unique_ptr<ProxyServer> proxy_;
  config::SnapshotPtr snapshot_;
  std::atomic<uint32_t> dialled_{kWebVip};
  std::shared_ptr<telemetry::RequestMetrics> metrics_ = std::make_shared<telemetry::RequestMetrics>();
  TracingSettings tracing_;  // off unless a test gives it an exporter
  KeptLog log_;
};

// web-2 answers every request with 503.
class ProxyLoopbackBrokenPodTest : public ProxyLoopbackTest {
 protected:
  void SetUp() override {
    broken_pod_ = 1;
    ProxyLoopbackTest::SetUp();
  }
};

constexpr const char* kSubsets = R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: default}
spec:
  host: web
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
)";

// The DestinationRule (with `traffic_policy` appended under its spec) and a
// VirtualService for web with these http routes.
std::string virtual_service(const std::string& http, const std::string& traffic_policy = "") {
  return std::string(kSubsets) + traffic_policy +
         "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
         "metadata: {name: web, namespace: default}\nspec:\n  hosts: [web]\n  http:\n" + http;
}

TEST_F(ProxyLoopbackTest, HeaderMatchRoutesToASubsetAndTheRestToTheDefault) {
  start(virtual_service("  - match: [{headers: {end-user: {exact: jason}}}]\n"
                        "    route: [{destination: {host: web, subset: v2}}]\n"
                        "  - route: [{destination: {host: web, subset: v1}}]\n"));
  for (int i = 0; i < 5; ++i) {
    EXPECT_NE(request(get("/", "end-user: jason\r\n")).body.find("\"version\":\"v2\""), std::string::npos);
    EXPECT_NE(request(get("/")).body.find("\"version\":\"v1\""), std::string::npos);
  }
}

TEST_F(ProxyLoopbackTest, AnUnknownOriginalDestinationIs404NR) {
  start(virtual_service("  - route: [{destination: {host: web, subset: v1}}]\n"));
  dialled_ = 0x0a6000ff;  // 10.96.0.255: no service there
  EXPECT_EQ(request(get("/")).status, 404u);
  EXPECT_TRUE(eventually([&] { return log_has("\"flags\":\"NR\""); }));
}

TEST_F(ProxyLoopbackBrokenPodTest, RetriesOn5xxReachAHealthyPod) {
  start(virtual_service("  - route: [{destination: {host: web}}]\n    retries: {attempts: 3, retryOn: 5xx}\n"));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(request(get("/")).status, 200u);
  EXPECT_GT(echoes_[1]->requests(), 0u) << "the broken pod was tried";
  EXPECT_TRUE(eventually([&] { return log_has("\"attempts\":2"); }));
}

// The sum of istio_requests_total over the series whose labels hold every one
// of `parts` (`name="value"` pieces).
double requests_total(const std::string& exposition, const std::vector<std::string>& parts) {
  double sum = 0;
  std::istringstream in(exposition);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("istio_requests_total{")) continue;
    bool all = true;
    for (const auto& p : parts) all = all && line.find(p) != std::string::npos;
    if (all) sum += std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
  }
  return sum;
}

// Istio's request metrics name the client's pod and the pod of the last
// attempt: requests that web-2 failed and a retry saved count for the pod
// that answered.
TEST_F(ProxyLoopbackBrokenPodTest, MetricsNameTheClientAndTheLastAttemptsPod) {
  start(virtual_service("  - route: [{destination: {host: web}}]\n    retries: {attempts: 3, retryOn: 5xx}\n") +
        "---\napiVersion: v1\nkind: Pod\nmetadata: {name: client-7d4b9c-abcde, namespace: tools, labels: "
        "{app: client, pod-template-hash: 7d4b9c}}\nstatus: {phase: Running, podIP: 127.0.0.1}\n");
  for (int i = 0; i < 20; ++i) EXPECT_EQ(request(get("/")).status, 200u);
  ASSERT_GT(echoes_[1]->requests(), 0u) << "the broken pod was tried";
  // The completion is recorded after the response is written: wait for all 20.
  std::string text;
  EXPECT_TRUE(eventually([&] {
    telemetry::ExpositionWriter w(telemetry::ExpositionFormat::kText004);
    metrics_->write(w);
    text = std::move(w).finish();
    return requests_total(text, {}) == 20;
  })) << text;
  const std::vector<std::string> client = {R"(source_workload="client")", R"(source_workload_namespace="tools")",
                                           R"(source_app="client")", R"(destination_service="web.default.svc.cluster.local")",
                                           R"(response_code="200")", R"(response_flags="-")"};
  EXPECT_EQ(requests_total(text, client), 20) << text;
  EXPECT_EQ(requests_total(text, {R"(destination_workload="web-2")"}), 0) << text;
  auto to = [&](const char* pod) {
    auto parts = client;
    parts.push_back(std::string("destination_workload=\"") + pod + "\"");
    return requests_total(text, parts);
  };
  EXPECT_EQ(to("web-1") + to("web-3"), 20) << text;
}

// Tracing: the client's W3C context goes on with sluice's span as the
// parent; each attempt is a child span; the application sees the trace id
// and the span of the attempt that reached it.
TEST_F(ProxyLoopbackBrokenPodTest, SampledRequestsExportARequestSpanWithAttemptsAsChildren) {
  OtlpReceiver receiver;
  trace_to(receiver);
  start(virtual_service("  - route: [{destination: {host: web}}]\n    retries: {attempts: 3, retryOn: 5xx}\n"));
  constexpr int kRequests = 12;
  std::vector<std::string> app_parents;  // the span id each request's upstream named as its parent
  for (int i = 0; i < kRequests; ++i) {
    char trace[33];
    std::snprintf(trace, sizeof(trace), "4bf92f3577b34da6a3ce929d0e0e47%02d", i);
    const Reply r = request(get("/", "traceparent: 00-" + std::string(trace) + "-00f067aa0ba902b7-01\r\n"
                                     "x-request-id: req-" + std::to_string(i) + "\r\n"));
    ASSERT_EQ(r.status, 200u);
    const std::string tp = echoed_header(r.body, "traceparent");
    ASSERT_EQ(tp.size(), 55u) << r.body;
    EXPECT_EQ(tp.substr(3, 32), trace) << "the trace id goes on";
    EXPECT_NE(tp.substr(36, 16), "00f067aa0ba902b7") << "the parent is sluice's span, not the client's";
    EXPECT_EQ(tp.substr(53), "01");
    EXPECT_EQ(echoed_header(r.body, "x-b3-traceid"), trace) << "B3 too, for applications that forward only B3";
    EXPECT_EQ(echoed_header(r.body, "x-b3-spanid"), tp.substr(36, 16));
    app_parents.push_back(tp.substr(36, 16));
  }
  ASSERT_GT(echoes_[1]->requests(), 0u) << "the broken pod was tried, so some requests were retried";

  // Every request span, then every attempt, has arrived (order is not fixed).
  std::vector<otlp::Span> spans;
  ASSERT_TRUE(eventually([&] {
    spans = receiver.spans();
    return spans.size() >= static_cast<size_t>(kRequests) + kRequests + echoes_[1]->requests();
  }, 10s)) << spans.size();
  int retried = 0;
  for (int i = 0; i < kRequests; ++i) {
    const otlp::Span* root = nullptr;
    for (const auto& s : spans) {
      if (s.parent_span_id() == id_bytes("00f067aa0ba902b7") && span_attribute(s, "guid:x-request-id") == "req-" + std::to_string(i)) root = &s;
    }
    ASSERT_NE(root, nullptr) << "request " << i;
    EXPECT_EQ(root->name(), "web.default.svc.cluster.local:80/*");
    EXPECT_EQ(root->kind(), otlp::Span::SPAN_KIND_CLIENT);
    EXPECT_EQ(span_attribute(*root, "upstream_cluster"), "outbound|80||web.default.svc.cluster.local");
    EXPECT_EQ(span_attribute(*root, "http.status_code"), "200");
    EXPECT_EQ(span_attribute(*root, "http.method"), "GET");
    EXPECT_EQ(span_attribute(*root, "http.url"), "http://web/");
    EXPECT_EQ(span_attribute(*root, "node_id"), "sluiced~127.0.0.1~test");
    EXPECT_EQ(span_attribute(*root, "response_flags"), "-");
    std::vector<const otlp::Span*> attempts;
    for (const auto& s : spans) {
      if (s.parent_span_id() == root->span_id()) attempts.push_back(&s);
    }
    ASSERT_FALSE(attempts.empty()) << "request " << i;
    std::sort(attempts.begin(), attempts.end(), [](auto* a, auto* b) { return span_attribute(*a, "sluice.attempt") < span_attribute(*b, "sluice.attempt"); });
    for (const otlp::Span* a : attempts) EXPECT_EQ(a->trace_id(), root->trace_id());
    // The application's parent is the last attempt: the one that reached it.
    EXPECT_EQ(attempts.back()->span_id(), id_bytes(app_parents[static_cast<size_t>(i)])) << "request " << i;
    EXPECT_EQ(span_attribute(*attempts.back(), "http.status_code"), "200");
    if (attempts.size() > 1) {
      ++retried;
      EXPECT_EQ(span_attribute(*attempts.front(), "http.status_code"), "503");
      EXPECT_EQ(attempts.front()->status().code(), otlp::Status::STATUS_CODE_ERROR);
      EXPECT_EQ(span_attribute(*attempts.front(), "upstream_address"), "127.0.0.11:" + std::to_string(backend_port_));
    }
  }
  EXPECT_GT(retried, 0);
}

// Not sampled (the client said 0): the context still goes on, marked not
// sampled, and nothing is exported. Without a context and at 0%, sluice
// starts one, also not sampled.
TEST_F(ProxyLoopbackTest, UnsampledRequestsPropagateButExportNothing) {
  OtlpReceiver receiver;
  trace_to(receiver);
  start(virtual_service("  - route: [{destination: {host: web, subset: v1}}]\n"));
  const Reply b3 = request(get("/", "x-b3-traceid: a3ce929d0e0e4736\r\nx-b3-spanid: 00f067aa0ba902b7\r\n"
                                    "x-b3-sampled: 0\r\n"));
  EXPECT_EQ(echoed_header(b3.body, "x-b3-traceid"), "a3ce929d0e0e4736");
  EXPECT_EQ(echoed_header(b3.body, "x-b3-parentspanid"), "00f067aa0ba902b7");
  EXPECT_EQ(echoed_header(b3.body, "x-b3-sampled"), "0");
  EXPECT_EQ(echoed_header(b3.body, "traceparent").substr(0, 36), "00-0000000000000000a3ce929d0e0e4736-");
  const Reply none = request(get("/"));
  const std::string tp = echoed_header(none.body, "traceparent");
  ASSERT_EQ(tp.size(), 55u) << none.body;
  EXPECT_EQ(tp.substr(53), "00");
  EXPECT_EQ(echoed_header(none.body, "x-b3-traceid"), "") << "unsampled and no B3 from the client: traceparent alone";
  EXPECT_EQ(echoed_header(none.body, "x-b3-sampled"), "");
  const Reply single = request(get("/", "b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1\r\n"));
  EXPECT_EQ(echoed_header(single.body, "b3").substr(0, 51), "80f198ee56343ba864fe8b2a57d3eff7-" + echoed_header(single.body, "traceparent").substr(36, 16) + "-1")
      << "single b3 in, single b3 out";
  EXPECT_TRUE(eventually([&] { return receiver.span_count() >= 2; }));
  tracing_.exporter.reset();
  proxy_->stop();
  proxy_.reset();  // the last reference: the exporter sends what it holds and stops
  EXPECT_EQ(receiver.span_count(), 2u) << "only the request whose client sampled it: its span and one attempt";
}

TEST_F(ProxyLoopbackBrokenPodTest, WithoutRetriesTheBrokenPodShows) {
  start(virtual_service("  - route: [{destination: {host: web, subset: v2}}]\n    retries: {attempts: 0}\n"));
  EXPECT_EQ(request(get("/")).status, 503u);
}

TEST_F(ProxyLoopbackTest, PerTryTimeoutsAreRetriedThenTheRouteGives504UT) {
  start(virtual_service("  - route: [{destination: {host: web, subset: v1}}]\n"
                        "    timeout: 2s\n    retries: {attempts: 2, perTryTimeout: 100ms, retryOn: 5xx}\n"));
  const Reply r = request(get("/", "x-echo-delay-ms: 1000\r\n"));
  EXPECT_EQ(r.status, 504u);
  EXPECT_TRUE(eventually([&] { return log_has("\"flags\":\"UT,URX\""); })) << "Envoy's order: UT before URX";
  EXPECT_TRUE(eventually([&] { return log_has("\"attempts\":3"); }));
}

TEST_F(ProxyLoopbackTest, AbortFaultAnswersLocallyWithFI) {
  start(virtual_service("  - route: [{destination: {host: web, subset: v1}}]\n"
                        "    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}\n"));
  const Reply r = request(get("/"));
  EXPECT_EQ(r.status, 418u);
  EXPECT_EQ(r.body, "fault filter abort\n");
  EXPECT_TRUE(eventually([&] { return log_has("\"flags\":\"FI\""); }));
  EXPECT_EQ(echoes_[0]->requests(), 0u);
}

TEST_F(ProxyLoopbackTest, DelayFaultHoldsTheRequestThenForwardsIt) {
  start(virtual_service("  - route: [{destination: {host: web, subset: v1}}]\n"
                        "    fault: {delay: {fixedDelay: 200ms, percentage: {value: 100}}}\n"));
  EXPECT_EQ(request(get("/")).status, 200u);
  EXPECT_TRUE(eventually([&] { return log_has("\"flags\":\"DI\""); }));
  EXPECT_EQ(echoes_[0]->requests(), 1u);
}

// Envoy drops a delayed request whose client hangs up during the delay.
TEST_F(ProxyLoopbackTest, AClientThatHangsUpDuringAFaultDelayIsNotForwarded) {
  start(virtual_service("  - route: [{destination: {host: web, subset: v1}}]\n"
                        "    fault: {delay: {fixedDelay: 1s, percentage: {value: 100}}}\n"));
  {
    Client c(proxy_->port());
    c.send(get("/"));
    std::this_thread::sleep_for(100ms);
  }  // closed mid-delay
  EXPECT_TRUE(eventually([&] { return log_lines() > 0; }));
  EXPECT_TRUE(log_has("\"flags\":\"DI,DC\"")) << (log_.lines.empty() ? "" : log_.lines.front());
  std::this_thread::sleep_for(1200ms);  // past the delay: nothing may reach the backend
  EXPECT_EQ(echoes_[0]->requests(), 0u);
}

TEST_F(ProxyLoopbackTest, AMirrorGetsAShadowCopy) {
  start(virtual_service("  - route: [{destination: {host: web, subset: v1}}]\n"
                        "    mirror: {host: shadow}\n    mirrorPercentage: {value: 100}\n"));
  EXPECT_EQ(request(get("/")).status, 200u);
  EXPECT_TRUE(eventually([&] { return echoes_[3]->requests() == 1; }));
  EXPECT_EQ(echoes_[0]->requests(), 1u);
}

// A request body of `size` bytes in a pattern that `seed` varies, and the
// fields sluice-echo reports for it (size, then FNV-1a 64).
struct Patterned {
  std::string body;
  std::string size_field;  // "body_bytes":N
  std::string hash_field;  // "body_fnv1a":"<16 hex digits>"
  std::string hash_hex;
};
Patterned patterned(size_t size, unsigned seed = 7) {
  Patterned p;
  p.body.resize(size);
  uint64_t fnv = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < size; ++i) {
    p.body[i] = static_cast<char>('a' + (i * seed) % 26);
    fnv = (fnv ^ static_cast<uint8_t>(p.body[i])) * 0x100000001b3ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv));
  p.hash_hex = hex;
  p.size_field = "\"body_bytes\":" + std::to_string(size);
  p.hash_field = "\"body_fnv1a\":\"" + p.hash_hex + "\"";
  return p;
}

// `body` in chunks of `piece` bytes, with the last chunk.
std::string chunked(const std::string& body, size_t piece) {
  std::string out;
  char size_line[24];
  for (size_t at = 0; at < body.size(); at += piece) {
    const size_t n = std::min(piece, body.size() - at);
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", n);
    out.append(size_line).append(body, at, n).append("\r\n");
  }
  return out + "0\r\n\r\n";
}

bool echoed(const std::string& json, const Patterned& p) {
  return json.find(p.size_field) != std::string::npos && json.find(p.hash_field) != std::string::npos;
}

// The route to web v1, mirrored to `host`.
std::string mirrored_to(const std::string& host) {
  return virtual_service("  - route: [{destination: {host: web, subset: v1}}]\n    mirror: {host: " + host + "}\n");
}

uint64_t mirror_count(const std::atomic<uint64_t>& c) { return c.load(); }

// An HTTP/1.1 body past the retry buffer is fed to the mirror as it is read
// from the client (Envoy mirrors streamed bodies too): both the backend and
// the shadow get all of it, under the client's Content-Length or chunked.
TEST_F(ProxyLoopbackTest, AnHttp1BodyPastTheRetryBufferIsMirroredAsItComes) {
  start(mirrored_to("shadow"));
  const uint64_t sent_before = mirror_count(MirrorStats::global().sent_http1);
  const auto shadow_got = [this, base = echoes_[3]->body_bytes()] { return echoes_[3]->body_bytes() - base; };
  const Patterned sized = patterned(1000 * 1000);
  Reply r = post_paced(sized.body, false, shadow_got);
  EXPECT_EQ(r.status, 200u);
  EXPECT_TRUE(echoed(r.body, sized)) << r.body;
  EXPECT_TRUE(eventually([&] { return echoed(echoes_[3]->last_echo(), sized); })) << echoes_[3]->last_echo();
  EXPECT_NE(echoes_[3]->last_echo().find("\"host\":\"web-shadow\""), std::string::npos) << echoes_[3]->last_echo();
  EXPECT_NE(echoes_[3]->last_echo().find("\"content-length\":\"1000000\""), std::string::npos);
  EXPECT_TRUE(eventually([&] { return log_has("\"request_bytes\":1000000"); }));

  const Patterned in_chunks = patterned(1200 * 1000 + 7, 11);
  const auto shadow_got_more = [this, base = echoes_[3]->body_bytes()] { return echoes_[3]->body_bytes() - base; };
  r = post_paced(in_chunks.body, true, shadow_got_more);
  EXPECT_EQ(r.status, 200u);
  EXPECT_TRUE(echoed(r.body, in_chunks)) << r.body;
  EXPECT_TRUE(eventually([&] { return echoed(echoes_[3]->last_echo(), in_chunks); })) << echoes_[3]->last_echo();
  EXPECT_NE(echoes_[3]->last_echo().find("\"transfer-encoding\":\"chunked\""), std::string::npos);
  EXPECT_EQ(mirror_count(MirrorStats::global().sent_http1) - sent_before, 2u);
  EXPECT_EQ(echoes_[0]->requests(), 2u);  // one attempt each: the body is not retriable
}

// The same body to a mirror whose port is http2: its copy goes as a stream
// on the pooled h2 connection, DATA as the body is read. (The mirror's
// windows are wide: with 64 KiB ones a mirror behind a test thread falls
// more than the lag budget behind a loopback backend, and is dropped.)
TEST_F(ProxyLoopbackTest, AnHttp1BodyPastTheRetryBufferIsMirroredToAnH2Mirror) {
  start(h2_mirror(test::H2Window::kWide) + mirrored_to("shadow2"));
  const uint64_t sent_before = mirror_count(MirrorStats::global().sent_http2);
  const Patterned p = patterned(1000 * 1000, 13);
  const Reply r = post_paced(p.body, true, [this] { return h2_seen_.data_bytes.load(); });
  EXPECT_EQ(r.status, 200u);
  EXPECT_TRUE(echoed(r.body, p)) << r.body;
  EXPECT_TRUE(eventually([&] { return !h2_seen_.taken().empty(); }));
  const auto got = h2_seen_.taken();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "web-shadow 1000000 " + p.hash_hex);
  EXPECT_EQ(mirror_count(MirrorStats::global().sent_http2) - sent_before, 1u);
}

// Resident memory of this process (the proxy runs in it).
size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  unsigned long pages = 0, resident = 0;
  if (f) {
    if (std::fscanf(f, "%lu %lu", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

// A mirror that accepts nothing and reads nothing (a listener with a tiny
// receive buffer): a 48 MB body still reaches the backend whole, the copy is
// dropped once it lags the budget (counted), and the proxy never holds the
// body: the client sends it from a generator, so what this process grows by
// is the proxy's.
TEST_F(ProxyLoopbackTest, AnHttp1MirrorThatNeverReadsDoesNotHoldALargeBody) {
  const Blackhole hole("127.0.0.31", 4096);
  ASSERT_NE(hole.port, 0);
  start(http_service("hole", "10.96.0.53", "127.0.0.31", "http", hole.port) + mirrored_to("hole"));
  const uint64_t lagging_before = mirror_count(MirrorStats::global().lagging);
  const size_t rss_before = resident_bytes();

  constexpr size_t kPiece = 64 * 1024, kPieces = 768;  // 48 MiB
  const Patterned piece = patterned(kPiece, 5);
  uint64_t fnv = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < kPieces; ++i) {
    for (char c : piece.body) fnv = (fnv ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  }
  Client c(proxy_->port());
  ASSERT_TRUE(c.connected());
  c.send("POST /upload HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n");
  const std::string framed = chunked(piece.body, kPiece);
  const std::string one_chunk = framed.substr(0, framed.size() - 5);  // without the last chunk
  for (size_t i = 0; i < kPieces; ++i) c.send(one_chunk);
  c.send("0\r\n\r\n");
  const Reply r = c.read_reply();
  const size_t rss_after = resident_bytes();
  EXPECT_EQ(r.status, 200u);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv));
  EXPECT_NE(r.body.find("\"body_bytes\":" + std::to_string(kPiece * kPieces)), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(hex), std::string::npos) << r.body;
  EXPECT_EQ(mirror_count(MirrorStats::global().lagging) - lagging_before, 1u);
  // The copy may hold kMirrorLagBudgetBytes; a proxy that kept the body would grow by 48 MiB.
  EXPECT_LT(rss_after, rss_before + 16 * 1024 * 1024) << rss_before << " -> " << rss_after;
  proxy_->stop();
}

// An h2 mirror that stopped reading DATA (its windows never open): the copy
// stuck on flow control is dropped once it lags, and its stream is reset
// then, not at the copy's 10 s limit, so it holds no stream slot on the
// pooled connection meanwhile.
TEST_F(ProxyLoopbackTest, AStuckH2MirrorsStreamIsResetWhenItsCopyIsDropped) {
  start(h2_mirror(test::H2Window::kShut) + mirrored_to("shadow2"));
  const uint64_t lagging_before = mirror_count(MirrorStats::global().lagging);
  const Patterned p = patterned(2000 * 1000, 17);
  const Reply r = request("POST /upload HTTP/1.1\r\nHost: web\r\nContent-Length: 2000000\r\n\r\n" + p.body);
  EXPECT_EQ(r.status, 200u);
  EXPECT_TRUE(echoed(r.body, p)) << r.body;
  EXPECT_EQ(mirror_count(MirrorStats::global().lagging) - lagging_before, 1u);
  EXPECT_TRUE(eventually([&] { return h2_seen_.resets.load() == 1; })) << h2_seen_.resets.load();
  EXPECT_TRUE(h2_seen_.taken().empty());  // the copy never ended
}

// Istio's circuit-breaking task: one connection, one pending request,
// several concurrent clients against a slow backend.
TEST_F(ProxyLoopbackTest, CircuitBreakerOverflowGives503UO) {
  start(virtual_service("  - route: [{destination: {host: web, subset: v1}}]\n    retries: {attempts: 0}\n",
                        "  trafficPolicy:\n    connectionPool:\n      tcp: {maxConnections: 1}\n"
                        "      http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1}\n"));
  std::atomic<int> ok{0}, overflow{0}, other{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&] {
      for (int i = 0; i < 3; ++i) {
        const unsigned s = request(get("/", "x-echo-delay-ms: 150\r\n")).status;
        (s == 200 ? ok : s == 503 ? overflow : other)++;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_GT(ok.load(), 0);
  EXPECT_GT(overflow.load(), 0);
  EXPECT_EQ(other.load(), 0);
  EXPECT_TRUE(eventually([&] { return log_has("\"flags\":\"UO\""); }));
}

TEST_F(ProxyLoopbackBrokenPodTest, OutlierDetectionEjectsTheBrokenPod) {
  start(virtual_service("  - route: [{destination: {host: web}}]\n    retries: {attempts: 0}\n",
                        "  trafficPolicy:\n    outlierDetection:\n      consecutive5xxErrors: 1\n      interval: 1s\n"
                        "      baseEjectionTime: 30s\n      maxEjectionPercent: 100\n"));
  int failures = 0;
  for (int i = 0; i < 30; ++i) failures += request(get("/")).status == 503;
  EXPECT_EQ(failures, 1) << "one 5xx ejects web-2; the rest go to web-1 and web-3";
  EXPECT_EQ(echoes_[1]->requests(), 1u);
}

TEST_F(ProxyLoopbackTest, MalformedRequestsGet400) {
  start(virtual_service("  - route: [{destination: {host: web, subset: v1}}]\n"));
  EXPECT_EQ(request("GARBAGE\r\n\r\n").status, 400u);
  // Content-Length with Transfer-Encoding: a smuggling attempt.
  EXPECT_EQ(request("POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
                .status,
            400u);
  EXPECT_EQ(request("GET / HTTP/1.1\r\nHost: web\r\nContent-Length: -1\r\n\r\n").status, 400u);
  EXPECT_EQ(echoes_[0]->requests(), 0u);
}

TEST_F(ProxyLoopbackTest, OversizedHeadersGet431) {
  start(virtual_service("  - route: [{destination: {host: web, subset: v1}}]\n"));
  EXPECT_EQ(request(get("/", "x-big: " + std::string(40 * 1024, 'a') + "\r\n")).status, 431u);
}

TEST_F(ProxyLoopbackTest, ASlowClientGets408AndASilentOneIsClosed) {
  start(virtual_service("  - route: [{destination: {host: web, subset: v1}}]\n"), 300ms);
  {
    Client c(proxy_->port());
    c.send("GET / HTTP/1.1\r\nHost: w");  // and nothing more
    EXPECT_EQ(c.read_reply().status, 408u);
  }
  Client silent(proxy_->port());
  EXPECT_TRUE(silent.closed_by_peer());
}

TEST_F(ProxyLoopbackTest, KeepAliveCarriesManyRequestsOnOneConnection) {
  start(virtual_service("  - route: [{destination: {host: web, subset: v1}}]\n"));
  Client c(proxy_->port());
  for (int i = 0; i < 10; ++i) {
    c.send(get("/n" + std::to_string(i)));
    const Reply r = c.read_reply();
    ASSERT_EQ(r.status, 200u);
    EXPECT_NE(r.body.find("\"path\":\"/n" + std::to_string(i) + "\""), std::string::npos);
  }
}

// The drain (docs/operations.md): a keep-alive connection gets its next
// answer with `Connection: close`, an idle one is closed, and the listeners
// close after the grace.
TEST_F(ProxyLoopbackTest, ADrainClosesEachKeepAliveConnectionAfterItsNextAnswer) {
  start(virtual_service("  - route: [{destination: {host: web, subset: v1}}]\n"));
  ASSERT_TRUE(eventually([&] { return proxy_->mesh_accepting(); }));
  Client busy(proxy_->port());
  busy.send(get("/before"));
  Reply r = busy.read_reply();
  ASSERT_EQ(r.status, 200u);
  EXPECT_FALSE(r.closed);
  Client idle(proxy_->port());
  idle.send(get("/before"));
  ASSERT_EQ(idle.read_reply().status, 200u);
  EXPECT_EQ(proxy_->open_connections(), 2u);

  proxy_->begin_drain(100ms);
  busy.send(get("/during"));
  r = busy.read_reply();
  EXPECT_EQ(r.status, 200u) << "a request after the drain started is still answered";
  EXPECT_TRUE(r.closed) << r.head;
  EXPECT_TRUE(busy.closed_by_peer());
  EXPECT_TRUE(idle.closed_by_peer()) << "an idle keep-alive connection is closed";
  EXPECT_TRUE(eventually([&] { return proxy_->open_connections() == 0; }));
  EXPECT_TRUE(eventually([&] { return !proxy_->accepting_any(); })) << "the listeners stay open after the grace";
  Client late(proxy_->port());
  EXPECT_FALSE(late.connected()) << "nothing listens once the drain closed the listeners";
}

// HTTP/2 (h2c with prior knowledge) on the same mesh port, through the same
// routing, filters and upstream path, to HTTP/1.1 backends.
namespace h2 {

// A client connection speaking HTTP/2 from its first byte.
class H2Conn {
 public:
  explicit H2Conn(uint16_t port) : tcp_(port) {}
  bool pump(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
    return client.pump(tcp_.fd(), done, limit);
  }
  int fd() const { return tcp_.fd(); }
  test::H2TestClient client;

 private:
  Client tcp_;
};

}  // namespace h2

TEST_F(ProxyLoopbackTest, H2StreamsAreRoutedFilteredAndForwardedLikeHttp1) {
  start(virtual_service("  - match: [{headers: {end-user: {exact: jason}}}]\n"
                        "    route: [{destination: {host: web, subset: v2}}]\n"
                        "  - match: [{uri: {prefix: /teapot}}]\n"
                        "    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}\n"
                        "    route: [{destination: {host: web, subset: v1}}]\n"
                        "  - route: [{destination: {host: web, subset: v1}}]\n"));
  h2::H2Conn c(proxy_->port());
  const int32_t plain = c.client.request("GET", "/reviews/1", "web");
  const int32_t jason = c.client.request("GET", "/reviews/2", "web", {{"end-user", "jason"}});
  const int32_t teapot = c.client.request("GET", "/teapot", "web");
  const std::string body(3000, 'q');
  const int32_t post = c.client.request("POST", "/upload", "web", {{"content-type", "text/plain"}}, true, &body);
  ASSERT_TRUE(c.pump([&] { return c.client.closed_count() == 4; }));
  EXPECT_EQ(c.client.stream(plain).status, 200);
  EXPECT_NE(c.client.stream(plain).body.find("\"version\":\"v1\""), std::string::npos) << c.client.stream(plain).body;
  EXPECT_NE(c.client.stream(plain).body.find("x-request-id"), std::string::npos) << "the proxy's request id";
  EXPECT_NE(c.client.stream(plain).body.find("\"host\":\"web\""), std::string::npos) << ":authority is the Host";
  EXPECT_EQ(c.client.stream(jason).headers["x-echo-version"], "v2");
  EXPECT_EQ(c.client.stream(teapot).status, 418);
  EXPECT_EQ(c.client.stream(teapot).body, "fault filter abort\n");
  EXPECT_EQ(c.client.stream(post).status, 200);
  EXPECT_TRUE(eventually([&] { return log_has("\"protocol\":\"HTTP/2\""); }));
  EXPECT_TRUE(eventually([&] { return log_has("\"flags\":\"FI\""); }));
  // HTTP/1.1 on the same port is unchanged.
  EXPECT_NE(request(get("/", "end-user: jason\r\n")).body.find("\"version\":\"v2\""), std::string::npos);
}

TEST_F(ProxyLoopbackTest, H2ManyConcurrentStreamsOnOneConnectionAllSucceed) {
  start(virtual_service("  - route: [{destination: {host: web}}]\n"));
  h2::H2Conn c(proxy_->port());
  std::vector<int32_t> ids;
  // Some wait at the backend, so that they overlap on the connection.
  for (int i = 0; i < 60; ++i) {
    ids.push_back(c.client.request("GET", "/s/" + std::to_string(i), "web",
                                   {{"x-echo-delay-ms", i % 3 == 0 ? "50" : "0"}}));
  }
  ASSERT_TRUE(c.pump([&] { return c.client.closed_count() == ids.size(); }, 10s));
  for (int32_t id : ids) EXPECT_EQ(c.client.stream(id).status, 200) << "stream " << id;
}

TEST_F(ProxyLoopbackTest, H2ALargeChunkedResponseIsRelayedWhole) {
  start(virtual_service("  - route: [{destination: {host: web, subset: v1}}]\n"));
  h2::H2Conn c(proxy_->port());
  const int32_t id = c.client.request("GET", "/big", "web", {{"x-echo-body-bytes", "1000000"}, {"x-echo-chunked", "1"}});
  ASSERT_TRUE(c.pump([&] { return c.client.stream(id).closed; }, 10s));
  EXPECT_EQ(c.client.stream(id).status, 200);
  EXPECT_EQ(c.client.stream(id).body.size(), 1000000u);
  EXPECT_FALSE(c.client.stream(id).reset);
}

// A body past the retry buffer goes on to the HTTP/1.1 backend as it
// arrives (chunked, the client's window opened as it is sent), not 413.
TEST_F(ProxyLoopbackTest, H2ALargeRequestBodyIsStreamedToAnHttp1Backend) {
  start(virtual_service("  - route: [{destination: {host: web, subset: v1}}]\n"));
  h2::H2Conn c(proxy_->port());
  const Patterned p = patterned(3 * 1000 * 1000);
  const int32_t id =
      c.client.request("POST", "/upload", "web", {{"content-type", "application/octet-stream"}}, true, &p.body);
  ASSERT_TRUE(c.pump([&] { return c.client.stream(id).closed; }, 20s));
  EXPECT_EQ(c.client.stream(id).status, 200);
  EXPECT_TRUE(echoed(c.client.stream(id).body, p)) << c.client.stream(id).body;
  EXPECT_TRUE(eventually([&] { return log_has("\"request_bytes\":3000000"); }));
}

// Request trailers of an h2 client reach an HTTP/1.1 backend in the last
// chunk of a chunked body; under the client's Content-Length there is no
// place for them: dropped, and counted.
TEST_F(ProxyLoopbackTest, H2RequestTrailersReachAnHttp1BackendInTheLastChunk) {
  start(virtual_service("  - route: [{destination: {host: web, subset: v1}}]\n"));
  h2::H2Conn c(proxy_->port());
  const std::string body(1000, 't');
  c.client.trailers_for_next({{"x-checksum", "abc123"}});
  const int32_t chunked = c.client.request("POST", "/t", "web", {{"content-type", "text/plain"}}, true, &body);
  ASSERT_TRUE(c.pump([&] { return c.client.stream(chunked).closed; }));
  const auto& got = c.client.stream(chunked);
  EXPECT_EQ(got.status, 200);
  EXPECT_NE(got.body.find("\"x-checksum\":\"abc123\""), std::string::npos) << got.body;
  EXPECT_NE(got.body.find("\"body_bytes\":1000"), std::string::npos) << got.body;
  const uint64_t dropped = H2Stats::global().request_trailers_dropped.load();
  c.client.trailers_for_next({{"x-checksum", "def456"}});
  const int32_t sized = c.client.request("POST", "/t", "web", {{"content-length", "1000"}}, true, &body);
  ASSERT_TRUE(c.pump([&] { return c.client.stream(sized).closed; }));
  EXPECT_EQ(c.client.stream(sized).status, 200);
  EXPECT_EQ(c.client.stream(sized).body.find("def456"), std::string::npos) << c.client.stream(sized).body;
  EXPECT_NE(c.client.stream(sized).body.find("\"body_bytes\":1000"), std::string::npos);
  EXPECT_EQ(H2Stats::global().request_trailers_dropped.load(), dropped + 1);
}

TEST_F(ProxyLoopbackTest, H2RapidResetGetsGoawayAndTheWorkerServesOthers) {
  start(virtual_service("  - route: [{destination: {host: web, subset: v1}}]\n"));
  {
    h2::H2Conn attacker(proxy_->port());
    for (int i = 0; i < 2000; ++i) {
      const int32_t id = attacker.client.request("GET", "/", "web");
      attacker.pump([] { return true; }, 0ms);  // the request leaves before its reset
      attacker.client.reset(id);
    }
    ASSERT_TRUE(attacker.pump([&] { return attacker.client.goaway().has_value(); }));
    EXPECT_EQ(*attacker.client.goaway(), static_cast<uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
    EXPECT_TRUE(attacker.pump([&] { return attacker.client.peer_closed(); })) << "and the connection closes";
  }
  h2::H2Conn other(proxy_->port());
  const int32_t id = other.client.request("GET", "/", "web");
  ASSERT_TRUE(other.pump([&] { return other.client.stream(id).closed; }));
  EXPECT_EQ(other.client.stream(id).status, 200);
  EXPECT_EQ(request(get("/")).status, 200u);
}

TEST_F(ProxyLoopbackTest, H2StreamsPastTheLimitAreRefusedAndOversizedHeadersGet431) {
  start(virtual_service("  - route: [{destination: {host: web, subset: v1}}]\n"));
  h2::H2Conn c(proxy_->port());
  std::vector<int32_t> open;
  for (int i = 0; i < 110; ++i) open.push_back(c.client.request("GET", "/", "web", {}, /*end_stream=*/false));
  ASSERT_TRUE(c.pump([&] {
    size_t refused = 0;
    for (int32_t id : open) refused += c.client.stream(id).reset == NGHTTP2_REFUSED_STREAM;
    return refused == 10;
  }));
  h2::H2Conn d(proxy_->port());
  const int32_t big = d.client.request("GET", "/", "web", {{"x-big", std::string(40000, 'a')}});
  ASSERT_TRUE(d.pump([&] { return d.client.stream(big).closed; }));
  EXPECT_EQ(d.client.stream(big).status, 431);
  EXPECT_EQ(echoes_[0]->requests(), 0u) << "nothing was forwarded";
}

TEST_F(ProxyLoopbackTest, H2cUpgradeServesTheRequestAsStreamOneThenMoreStreams) {
  start(virtual_service("  - match: [{headers: {end-user: {exact: jason}}}]\n"
                        "    route: [{destination: {host: web, subset: v2}}]\n"
                        "  - route: [{destination: {host: web, subset: v1}}]\n"));
  h2::H2Conn c(proxy_->port());
  // HTTP2-Settings: MAX_CONCURRENT_STREAMS = 100, base64url.
  const std::string settings("\x00\x03\x00\x00\x00\x64", 6);
  const std::string upgrade = "GET /first HTTP/1.1\r\nHost: web\r\nend-user: jason\r\n"
                              "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n\r\n";
  ASSERT_EQ(::send(c.fd(), upgrade.data(), upgrade.size(), MSG_NOSIGNAL), static_cast<ssize_t>(upgrade.size()));
  std::string head;
  char ch;
  while (head.find("\r\n\r\n") == std::string::npos && ::recv(c.fd(), &ch, 1, 0) == 1) head += ch;
  ASSERT_EQ(head.substr(0, 12), "HTTP/1.1 101") << head;
  ASSERT_TRUE(c.client.upgraded(settings));
  const int32_t second = c.client.request("GET", "/second", "web");
  ASSERT_TRUE(c.pump([&] { return c.client.stream(1).closed && c.client.stream(second).closed; }));
  EXPECT_EQ(c.client.stream(1).status, 200);
  EXPECT_EQ(c.client.stream(1).headers["x-echo-version"], "v2") << "the upgraded request was routed by its headers";
  EXPECT_NE(c.client.stream(1).body.find("/first"), std::string::npos);
  EXPECT_EQ(c.client.stream(1).body.find("h2c"), std::string::npos) << "no upgrade header went upstream";
  EXPECT_EQ(c.client.stream(second).status, 200);
  EXPECT_EQ(c.client.stream(second).headers["x-echo-version"], "v1");
}

}  // namespace
}  // namespace sluice::proxy
