// The proxy's HTTP/2 upstream side against in-test backends (h2_test_backend.h):
// request trailers carried to an h2 server, and servers that attack the
// proxy (CONTINUATION flood, HPACK bomb, SETTINGS and PING floods, window
// abuse, endless resets). Each attack must end in a bounded error for the
// client (503), close or reset what it came on, move its counter, and leave
// the worker serving the next request.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "h2_stats.h"
#include "h2_test_backend.h"
#include "h2_test_client.h"
#include "loopback_proxy.h"
#include "proxy_server.h"

namespace sluice::proxy {
namespace {

using namespace std::chrono_literals;
using test::h2_frame;
using test::H2TestBackend;

constexpr uint32_t kGoodVip = 0x0a600046;     // 10.96.0.70: the well-behaved h2 server
constexpr uint32_t kHostileVip = 0x0a600047;  // 10.96.0.71: the attacker of the test

int connect_to(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{20, 0};  // far above any answer here: a stall fails the test, it does not hang it
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// An HTTP/1.1 GET through the proxy: the status, or 0 if none came.
unsigned http1_status(uint16_t port) {
  const int fd = connect_to(port);
  if (fd < 0) return 0;
  const std::string req = "GET / HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n";
  test::send_all(fd, req);
  std::string reply;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) reply.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return reply.size() > 12 ? static_cast<unsigned>(std::atoi(reply.c_str() + 9)) : 0;
}

class H2UpstreamTest : public ::testing::Test {
 protected:
  // Two h2 Services (port "http2"): good at 127.0.0.40, hostile at 127.0.0.41.
  void start(H2TestBackend::Serve hostile, int hostile_rcvbuf = 0) {
    good_ = std::make_unique<H2TestBackend>("127.0.0.40", test::serve_h2_echo);
    hostile_ = std::make_unique<H2TestBackend>("127.0.0.41", std::move(hostile), hostile_rcvbuf);
    ASSERT_NE(good_->port(), 0);
    ASSERT_NE(hostile_->port(), 0);
    std::string yaml;
    const std::pair<const char*, uint16_t> services[] = {{"good", good_->port()}, {"hostile", hostile_->port()}};
    int i = 0;
    for (const auto& [name, port] : services) {
      yaml += std::string("apiVersion: v1\nkind: Service\nmetadata: {name: ") + name +
              ", namespace: default}\nspec: {clusterIP: 10.96.0." + std::to_string(70 + i) + ", selector: {app: " +
              name + "}, ports: [{name: http2, port: 80, targetPort: " + std::to_string(port) +
              "}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: " + name + "-1, namespace: default, labels: {app: " +
              name + "}}\nstatus: {phase: Running, podIP: 127.0.0." + std::to_string(40 + i) + "}\n---\n";
      ++i;
    }
    snapshot_ = snapshot_from_yaml(yaml);
    ASSERT_TRUE(snapshot_);
    ProxyOptions o = loopback_options(snapshot_, log_);
    o.workers = 1;  // one worker: a stall would show on the next request
    o.original_destination = [this](uint32_t, uint16_t, uint16_t) {
      return std::optional<OriginalDestination>(OriginalDestination{dialled_.load(), 80, 6, 0});
    };
    auto p = ProxyServer::start(std::move(o));
    ASSERT_TRUE(p.ok()) << p.error().to_string();
    proxy_ = std::move(*p);
  }

  void TearDown() override {
    if (proxy_) proxy_->stop();
    hostile_.reset();
    good_.reset();
  }

  // The attacker's requests fail with 503, boundedly; the worker then still
  // serves the well-behaved server.
  void expect_bounded_failure(int requests = 3) {
    dialled_ = kHostileVip;
    for (int i = 0; i < requests; ++i) EXPECT_EQ(http1_status(proxy_->port()), 503u) << "request " << i;
    dialled_ = kGoodVip;
    EXPECT_EQ(http1_status(proxy_->port()), 200u) << "the worker serves others";
  }

  std::unique_ptr<H2TestBackend> good_;
  std::unique_ptr<H2TestBackend> hostile_;
  std::unique_ptr<ProxyServer> proxy_;
  config::SnapshotPtr snapshot_;
  std::atomic<uint32_t> dialled_{kGoodVip};
  KeptLog log_;
};

uint64_t stat(const std::atomic<uint64_t>& c) { return c.load(); }

// The server's side of the connection preface: its (empty) SETTINGS.
const std::string kServerPreface = h2_frame(NGHTTP2_SETTINGS, 0, 0, "");

TEST_F(H2UpstreamTest, RequestTrailersOfAnH2ClientReachTheH2Server) {
  start([](int, const std::atomic<bool>&) {});
  const int fd = connect_to(proxy_->port());
  ASSERT_GE(fd, 0);
  test::H2TestClient client;
  const std::string body(100 * 1000, 'b');  // past the retry buffer: piped
  client.trailers_for_next({{"x-checksum", "c0ffee"}, {"x-count", "2"}});
  const int32_t big = client.request("POST", "/up", "good", {{"content-type", "application/octet-stream"}}, true, &body);
  ASSERT_TRUE(client.pump(fd, [&] { return client.stream(big).closed; }, 10s));
  EXPECT_EQ(client.stream(big).status, 200);
  EXPECT_EQ(client.stream(big).headers["x-got-trailers"], "x-checksum=c0ffee;x-count=2;");
  EXPECT_EQ(client.stream(big).body, "got 100000 bytes");
  const std::string small = "hello";  // held whole until its trailers come
  client.trailers_for_next({{"grpc-ish", "yes"}});
  const int32_t little = client.request("POST", "/up", "good", {}, true, &small);
  ASSERT_TRUE(client.pump(fd, [&] { return client.stream(little).closed; }, 10s));
  EXPECT_EQ(client.stream(little).status, 200);
  EXPECT_EQ(client.stream(little).headers["x-got-trailers"], "grpc-ish=yes;");
  EXPECT_EQ(client.stream(little).body, "got 5 bytes");
  ::close(fd);
}

// HEADERS without END_HEADERS, then CONTINUATION frames without end: nghttp2
// gives up after kH2MaxContinuations and the connection is closed.
TEST_F(H2UpstreamTest, ContinuationFloodClosesTheConnection) {
  start([](int fd, const std::atomic<bool>& stop) {
    std::string buf;
    if (!test::send_all(fd, kServerPreface)) return;
    for (uint32_t id; (id = test::next_request_stream(fd, buf, stop)) != 0;) {
      std::string flood = h2_frame(NGHTTP2_HEADERS, 0, id, "\x88");  // :status 200
      const std::string field("\x00\x03x-a\x01" "b", 7);             // x-a: b, literal
      for (int i = 0; i < 10000 && flood.size() < (1u << 20); ++i) flood += h2_frame(NGHTTP2_CONTINUATION, 0, id, field);
      if (!test::send_all(fd, flood)) return;
    }
  });
  const uint64_t before = stat(H2Stats::global().upstream_flood_closes);
  expect_bounded_failure();
  EXPECT_GT(stat(H2Stats::global().upstream_flood_closes), before);
}

// One table entry of 4000 bytes named thousands of times in one header
// block: decoded, a 40 MB header list. The stream is reset past the limit.
TEST_F(H2UpstreamTest, HpackBombResetsTheStream) {
  start([](int fd, const std::atomic<bool>& stop) {
    std::string buf;
    if (!test::send_all(fd, kServerPreface)) return;
    for (uint32_t id; (id = test::next_request_stream(fd, buf, stop)) != 0;) {
      // :status 200; "x: a*4000" with incremental indexing (index 62); then
      // index 62 again and again, one byte each.
      std::string block = "\x88\x40\x01x\x7f\xa1\x1e";  // 4000 = 127 + 3873 (0xa1 0x1e)
      block += std::string(4000, 'a');
      block += std::string(16384 - block.size(), '\xbe');
      if (!test::send_all(fd, h2_frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, id, block))) return;
    }
  });
  const uint64_t before = stat(H2Stats::global().upstream_header_list_too_large);
  expect_bounded_failure();
  EXPECT_GT(stat(H2Stats::global().upstream_header_list_too_large), before);
}

// SETTINGS (then PING) frames sent without reading a byte: the ACKs the
// proxy owes pile up behind a full socket past kH2MaxOutboundAcks, and the
// connection is closed as a flood.
void flood_with(int fd, const std::atomic<bool>& stop, const std::string& frame) {
  std::string buf;
  if (!test::send_all(fd, kServerPreface)) return;
  if (test::next_request_stream(fd, buf, stop) == 0) return;
  std::string batch;
  while (batch.size() < 64 * 1024) batch += frame;
  // 64 MB at most; the proxy closes long before.
  for (int i = 0; i < 1024 && !stop; ++i) {
    if (!test::send_all(fd, batch)) return;
  }
}

TEST_F(H2UpstreamTest, SettingsFloodClosesTheConnection) {
  start([](int fd, const std::atomic<bool>& stop) { flood_with(fd, stop, h2_frame(NGHTTP2_SETTINGS, 0, 0, "")); },
        4096);
  const uint64_t before = stat(H2Stats::global().upstream_flood_closes);
  expect_bounded_failure(1);
  EXPECT_GT(stat(H2Stats::global().upstream_flood_closes), before);
}

TEST_F(H2UpstreamTest, PingFloodClosesTheConnection) {
  start([](int fd, const std::atomic<bool>& stop) { flood_with(fd, stop, h2_frame(NGHTTP2_PING, 0, 0, "12345678")); },
        4096);
  const uint64_t before = stat(H2Stats::global().upstream_flood_closes);
  expect_bounded_failure(1);
  EXPECT_GT(stat(H2Stats::global().upstream_flood_closes), before);
}

// A WINDOW_UPDATE that overflows the connection window (a flow-control
// error: GOAWAY, and the connection is done), then one of 0 on the stream
// (a stream error: RST_STREAM).
TEST_F(H2UpstreamTest, WindowUpdateAbuseEndsTheConnectionOrStream) {
  start([](int fd, const std::atomic<bool>& stop) {
    std::string buf;
    if (!test::send_all(fd, kServerPreface)) return;
    bool overflow = true;
    for (uint32_t id; (id = test::next_request_stream(fd, buf, stop)) != 0; overflow = !overflow) {
      const std::string frame = overflow ? h2_frame(NGHTTP2_WINDOW_UPDATE, 0, 0, test::be32(0x7fffffff))
                                         : h2_frame(NGHTTP2_WINDOW_UPDATE, 0, id, test::be32(0));
      if (!test::send_all(fd, frame)) return;
    }
  });
  expect_bounded_failure(4);
}

// Every stream reset as soon as it opens, REFUSED_STREAM (retried) and
// INTERNAL_ERROR in turn, for as long as the proxy keeps asking.
TEST_F(H2UpstreamTest, EndlessStreamResetsGiveBoundedErrors) {
  start([](int fd, const std::atomic<bool>& stop) {
    std::string buf;
    if (!test::send_all(fd, kServerPreface)) return;
    uint32_t n = 0;
    for (uint32_t id; (id = test::next_request_stream(fd, buf, stop)) != 0; ++n) {
      const uint32_t code = n % 2 ? NGHTTP2_INTERNAL_ERROR : NGHTTP2_REFUSED_STREAM;
      if (!test::send_all(fd, h2_frame(NGHTTP2_RST_STREAM, 0, id, test::be32(code)))) return;
    }
  });
  expect_bounded_failure(20);
}

}  // namespace
}  // namespace sluice::proxy
