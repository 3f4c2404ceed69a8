// Bodies through the L7 proxy: uploads and downloads of any size stream
// through sluiced piece by piece (Content-Length and chunked), only bodies
// within the retry buffer are retried, and Expect: 100-continue is answered
// by the proxy. Privileged.
#include <string>

#include "http_stream_client.h"
#include "l7_fixture.h"

using namespace sluice::test;

namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * 1024;

// Peak resident set of a process (VmHWM), in KiB.
uint64_t peak_rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

class L7BodyTest : public L7Test {
 protected:
  StreamedReply exchange(const std::string& method, const std::string& target, const std::string& headers,
                         const Upload& upload = {}) {
    int fd = node_->tcp_socket_in_pod(1);
    if (connect_to(fd, kVip, kPort) != 0) {
      close(fd);
      return StreamedReply{"connect failed"};
    }
    return streamed_exchange(fd, method, target, headers, upload);  // takes the socket
  }

  // The access-log line of the request to `path` (paths are unique per request here).
  std::string log_line_for(const std::string& path) {
    std::istringstream in(log());
    for (std::string line; std::getline(in, line);) {
      if (line.find("\"path\":\"" + path + "\"") != std::string::npos) return line;
    }
    return {};
  }
};

TEST_F(L7BodyTest, UploadsOfAnySizeArriveWhole) {
  start(bookinfo(route_with("")));
  const Upload uploads[] = {{kKiB, 0}, {64 * kKiB, 0}, {64 * kKiB + 1, 0}, {kMiB, 0}, {kMiB, 100000}, {32 * kMiB, 0},
                            {32 * kMiB, 1 << 20}};
  for (const Upload& u : uploads) {
    SCOPED_TRACE("upload of " + std::to_string(u.body_bytes) + (u.chunk_bytes ? " bytes, chunked" : " bytes"));
    StreamedReply r = exchange("POST", "/upload", "Connection: close\r\n", u);
    ASSERT_EQ(r.error, "");
    EXPECT_EQ(r.status, 200u);
    EXPECT_NE(r.body_head.find("\"body_bytes\":" + std::to_string(u.body_bytes)), std::string::npos) << r.body_head;
    EXPECT_NE(r.body_head.find("\"body_fnv1a\":\"" + u.hash() + "\""), std::string::npos) << r.body_head;
  }
}

TEST_F(L7BodyTest, LargeResponsesStreamWithoutBeingHeld) {
  start(bookinfo(route_with("")));
  for (const bool chunked : {false, true}) {
    SCOPED_TRACE(chunked ? "chunked" : "Content-Length");
    const uint64_t n = 100 * kMiB;
    StreamedReply r = exchange("GET", "/big?body_bytes=" + std::to_string(n) + (chunked ? "&chunked=1" : ""),
                               "Connection: close\r\n");
    ASSERT_EQ(r.error, "");
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.body_bytes, n);
    EXPECT_TRUE(r.matches_echo_pattern);
    EXPECT_EQ(r.chunked, chunked);
    if (!chunked) {
      EXPECT_EQ(r.headers["content-length"], std::to_string(n));
    }
  }
  // 200 MiB went through; the daemon never held a body.
  const uint64_t peak = peak_rss_kib(daemon_);
  ASSERT_GT(peak, 0u) << "sluiced is gone";
  EXPECT_LT(peak, 64 * 1024u) << "sluiced peak RSS, KiB";
}

TEST_F(L7BodyTest, KeepAliveSurvivesStreamedBodiesAndHead) {
  start(bookinfo(route_with("")));
  int fd = node_->tcp_socket_in_pod(1);
  ASSERT_EQ(connect_to(fd, kVip, kPort), 0);
  // Several exchanges on one client connection: each body must end exactly
  // where the next response begins.
  const std::string req =
      "GET /a?body_bytes=300000 HTTP/1.1\r\nHost: reviews:9080\r\n\r\n"
      "GET /b?body_bytes=300000&chunked=1 HTTP/1.1\r\nHost: reviews:9080\r\n\r\n"
      "HEAD /c?body_bytes=5000 HTTP/1.1\r\nHost: reviews:9080\r\n\r\n"
      "GET /d?status=204 HTTP/1.1\r\nHost: reviews:9080\r\n\r\n"
      "GET /e HTTP/1.1\r\nHost: reviews:9080\r\nConnection: close\r\n\r\n";
  HttpReply r = raw_request(fd, req);
  close(fd);
  EXPECT_EQ(r.status, 200u);
  // The last response is the JSON of /e, after everything else.
  EXPECT_NE(r.body.find("\"path\":\"/e\""), std::string::npos);
  EXPECT_NE(r.body.find("HTTP/1.1 204"), std::string::npos);
  EXPECT_NE(r.body.find("Content-Length: 5000"), std::string::npos);
}

TEST_F(L7BodyTest, OnlyBodiesWithinTheRetryBufferAreRetried) {
  start(bookinfo(route_with("    retries: {attempts: 3, retryOn: 5xx}\n")));
  StreamedReply small = exchange("POST", "/small", "Connection: close\r\nx-echo-status: 503\r\n", {kKiB, 0});
  ASSERT_EQ(small.error, "");
  EXPECT_EQ(small.status, 503u);
  StreamedReply big = exchange("POST", "/big", "Connection: close\r\nx-echo-status: 503\r\n", {kMiB, 0});
  ASSERT_EQ(big.error, "");
  EXPECT_EQ(big.status, 503u);
  EXPECT_NE(big.body_head.find("\"body_bytes\":" + std::to_string(kMiB)), std::string::npos);
  ASSERT_TRUE(log_has("\"path\":\"/big\"")) << "access log lines are written after the response";
  EXPECT_NE(log_line_for("/small").find("\"attempts\":4"), std::string::npos) << log_line_for("/small");
  const std::string big_line = log_line_for("/big");
  EXPECT_NE(big_line.find("\"attempts\":1"), std::string::npos) << big_line;
  EXPECT_NE(big_line.find("\"request_bytes\":" + std::to_string(kMiB)), std::string::npos) << big_line;
}

TEST_F(L7BodyTest, ExpectContinueIsAnsweredByTheProxy) {
  start(bookinfo(route_with("")));
  int fd = node_->tcp_socket_in_pod(1);
  ASSERT_EQ(connect_to(fd, kVip, kPort), 0);
  const std::string head =
      "PUT /put HTTP/1.1\r\nHost: reviews:9080\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n"
      "Connection: close\r\n\r\n";
  ASSERT_EQ(write(fd, head.data(), head.size()), static_cast<ssize_t>(head.size()));
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1) << "no 100 Continue";
  char buf[64] = {};
  const ssize_t n = read(fd, buf, sizeof buf - 1);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "HTTP/1.1 100 Continue\r\n\r\n");
  HttpReply r = raw_request(fd, std::string(100000, 'x'));
  close(fd);
  EXPECT_EQ(r.status, 200u);
  EXPECT_NE(r.body.find("\"body_bytes\":100000"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("\"expect\""), std::string::npos) << "Expect is not passed on";
}

}  // namespace
