#include "admin_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "admin_client.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kClientTimeout = 5000ms;

std::map<std::string, AdminHandler> test_routes() {
  return {
      {"/stats",
       [](const std::string&) {
         return AdminResponse{200, "application/json", R"({"requests":1})"};
       }},
      {"/echo",
       [](const std::string& target) {
         return AdminResponse{200, "text/plain", target};
       }},
      {"/boom", [](const std::string&) -> AdminResponse { throw std::runtime_error("kaput"); }},
      {"/teapot",
       [](const std::string&) {
         return AdminResponse{418, "text/plain", "short and stout"};
       }},
  };
}

std::unique_ptr<AdminServer> start_server() {
  auto server = AdminServer::start("127.0.0.1", 0, test_routes());
  if (!server) ADD_FAILURE() << server.error().to_string();
  return server ? std::move(*server) : nullptr;
}

// A raw client socket, for requests http_get cannot send.
class RawClient {
 public:
  explicit RawClient(uint16_t port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    timeval tv{5, 0};  // a broken server fails the test instead of hanging it
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() { close(fd_); }

  bool connected() const { return connected_; }

  bool send(const std::string& data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }

  // Everything until the server closes the connection (or 5 s pass).
  std::string read_all() {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = recv(fd_, buf, sizeof buf, 0)) > 0) out.append(buf, n);
    closed_ = n == 0 || (n < 0 && errno == ECONNRESET);
    return out;
  }
  // After read_all: whether it ended because the server closed (FIN or
  // reset), not because the receive timeout ran out.
  bool closed() const { return closed_; }

  // One response framed by Content-Length, leaving the connection open.
  std::string read_response() {
    std::string out;
    char buf[4096];
    for (;;) {
      auto end = out.find("\r\n\r\n");
      if (end != std::string::npos) {
        auto cl = out.find("Content-Length: ");
        size_t length = cl == std::string::npos ? 0 : std::stoul(out.substr(cl + 16));
        if (out.size() >= end + 4 + length) return out;
      }
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return out;
      out.append(buf, n);
    }
  }

 private:
  int fd_;
  bool connected_ = false;
  bool closed_ = false;
};

TEST(AdminServer, ServesARouteOnAnEphemeralPort) {
  auto server = start_server();
  ASSERT_TRUE(server);
  EXPECT_NE(server->port(), 0);

  auto r = http_get("127.0.0.1", server->port(), "/stats", kClientTimeout);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->first, 200u);
  EXPECT_EQ(r->second, R"({"requests":1})");
}

TEST(AdminServer, RoutesByPathAndPassesTheQueryToTheHandler) {
  auto server = start_server();
  ASSERT_TRUE(server);
  auto r = http_get("127.0.0.1", server->port(), "/echo?verbose=1&x=%20", kClientTimeout);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->first, 200u);
  EXPECT_EQ(r->second, "/echo?verbose=1&x=%20");

  auto teapot = http_get("127.0.0.1", server->port(), "/teapot", kClientTimeout);
  ASSERT_TRUE(teapot);
  EXPECT_EQ(teapot->first, 418u);
}

TEST(AdminServer, UnknownPathIs404) {
  auto server = start_server();
  ASSERT_TRUE(server);
  for (const char* target : {"/nope", "/stats/", "/nope?stats", "/"}) {
    auto r = http_get("127.0.0.1", server->port(), target, kClientTimeout);
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(r->first, 404u) << target;
    EXPECT_EQ(r->second, R"({"error":"not found"})");
  }
}

TEST(AdminServer, OtherMethodsAre405) {
  auto server = start_server();
  ASSERT_TRUE(server);
  for (const char* method : {"POST", "PUT", "DELETE"}) {
    RawClient c(server->port());
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(
        c.send(std::string(method) +
               " /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"));
    std::string res = c.read_all();
    EXPECT_EQ(res.rfind("HTTP/1.1 405 ", 0), 0u) << res;
    EXPECT_NE(res.find("Allow: GET, HEAD\r\n"), std::string::npos) << res;
  }
}

TEST(AdminServer, HeadSendsTheLengthButNoBody) {
  auto server = start_server();
  ASSERT_TRUE(server);
  RawClient c(server->port());
  ASSERT_TRUE(c.send("HEAD /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::string res = c.read_all();
  EXPECT_EQ(res.rfind("HTTP/1.1 200 ", 0), 0u) << res;
  EXPECT_NE(res.find("Content-Length: 14\r\n"), std::string::npos) << res;
  EXPECT_EQ(res.size(), res.find("\r\n\r\n") + 4) << "HEAD response carries a body: " << res;
}

TEST(AdminServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  auto server = start_server();
  ASSERT_TRUE(server);
  RawClient c(server->port());
  ASSERT_TRUE(c.send("GET /echo?1 HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string first = c.read_response();
  EXPECT_EQ(first.rfind("HTTP/1.1 200 ", 0), 0u) << first;
  EXPECT_NE(first.find("\r\n\r\n/echo?1"), std::string::npos) << first;

  ASSERT_TRUE(c.send("GET /echo?2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::string second = c.read_all();  // the server closes after it
  EXPECT_EQ(second.rfind("HTTP/1.1 200 ", 0), 0u) << second;
  EXPECT_NE(second.find("\r\n\r\n/echo?2"), std::string::npos) << second;
}

TEST(AdminServer, ThrowingHandlerIs500AndTheServerLivesOn) {
  auto server = start_server();
  ASSERT_TRUE(server);
  auto r = http_get("127.0.0.1", server->port(), "/boom", kClientTimeout);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->first, 500u);
  EXPECT_EQ(r->second, R"({"error":"internal error: kaput"})");

  auto after = http_get("127.0.0.1", server->port(), "/stats", kClientTimeout);
  ASSERT_TRUE(after) << after.error().to_string();
  EXPECT_EQ(after->first, 200u);
}

TEST(AdminServer, OversizedHeaderIs431) {
  auto server = start_server();
  ASSERT_TRUE(server);
  RawClient c(server->port());
  std::string big(AdminServer::kMaxHeaderBytes + 1024, 'a');
  ASSERT_TRUE(c.send("GET /stats HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n"));
  std::string res = c.read_all();
  EXPECT_EQ(res.rfind("HTTP/1.1 431 ", 0), 0u) << res.substr(0, 200);
}

TEST(AdminServer, OversizedBodyIs413) {
  auto server = start_server();
  ASSERT_TRUE(server);
  RawClient c(server->port());
  ASSERT_TRUE(c.send("GET /stats HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                     std::to_string(AdminServer::kMaxBodyBytes + 1) + "\r\n\r\n"));
  std::string res = c.read_all();
  EXPECT_EQ(res.rfind("HTTP/1.1 413 ", 0), 0u) << res.substr(0, 200);
}

TEST(AdminServer, MalformedRequestIs400) {
  auto server = start_server();
  ASSERT_TRUE(server);
  RawClient c(server->port());
  ASSERT_TRUE(c.send("GET /stats HTTP/1.1\r\nBad Header\r\n\r\n"));
  std::string res = c.read_all();
  EXPECT_EQ(res.rfind("HTTP/1.1 400 ", 0), 0u) << res;
}

TEST(AdminServer, StalledClientsDoNotBlockConcurrentOnes) {
  auto server = start_server();
  ASSERT_TRUE(server);
  // One client sends half a request and waits; one connects and says nothing.
  RawClient stalled(server->port());
  ASSERT_TRUE(stalled.send("GET /stats HTTP/1.1\r\nHo"));
  RawClient silent(server->port());
  ASSERT_TRUE(silent.connected());

  constexpr int kThreads = 8;
  constexpr int kRequests = 25;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  auto begin = Clock::now();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRequests; ++i) {
        std::string target = "/echo?" + std::to_string(t) + "-" + std::to_string(i);
        auto r = http_get("127.0.0.1", server->port(), target, kClientTimeout);
        if (r && r->first == 200 && r->second == target) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kThreads * kRequests);
  EXPECT_LT(Clock::now() - begin, 5s);
}

TEST(AdminServer, StopWithAClientConnectedReturnsPromptly) {
  auto server = start_server();
  ASSERT_TRUE(server);
  uint16_t port = server->port();
  RawClient c(port);
  ASSERT_TRUE(c.send("GET /stats HTTP/1.1\r\n"));  // never finished
  std::this_thread::sleep_for(50ms);               // let the server start reading

  auto begin = Clock::now();
  server->stop();
  EXPECT_LT(Clock::now() - begin, 1s);
  EXPECT_EQ(c.read_all(), "");
  EXPECT_TRUE(c.closed()) << "left hanging until the client's read timeout";
  server->stop();               // idempotent

  auto r = http_get("127.0.0.1", port, "/stats", 1000ms);
  EXPECT_FALSE(r) << "still serving after stop()";
}

TEST(AdminServer, BindFailureNamesTheAddress) {
  auto first = start_server();
  ASSERT_TRUE(first);
  auto second = AdminServer::start("127.0.0.1", first->port(), test_routes());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, -EADDRINUSE);
  EXPECT_NE(second.error().message.find("127.0.0.1:" + std::to_string(first->port())),
            std::string::npos)
      << second.error().message;
  EXPECT_NE(second.error().to_string().find("Address already in use"), std::string::npos);
}

TEST(AdminServer, RejectsANonNumericAddress) {
  auto r = AdminServer::start("not an address", 0, test_routes());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, -EINVAL);
}

TEST(AdminClient, ConnectionRefusedIsAnError) {
  uint16_t port;
  {
    auto server = start_server();
    ASSERT_TRUE(server);
    port = server->port();
  }
  auto r = http_get("127.0.0.1", port, "/stats", kClientTimeout);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, -ECONNREFUSED) << r.error().to_string();
}

TEST(AdminClient, TimesOutOnAServerThatNeverAnswers) {
  // A listener nobody accepts on: the kernel completes the handshake, then
  // nothing is ever sent back.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);

  auto begin = Clock::now();
  auto r = http_get("127.0.0.1", ntohs(addr.sin_port), "/stats", 200ms);
  auto elapsed = Clock::now() - begin;
  close(fd);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, -ETIMEDOUT) << r.error().to_string();
  EXPECT_GE(elapsed, 150ms);
  EXPECT_LT(elapsed, 2s);
}

TEST(AdminClient, ResolvesHostNames) {
  auto server = start_server();
  ASSERT_TRUE(server);
  auto r = http_get("localhost", server->port(), "/stats", kClientTimeout);
  // localhost may resolve to ::1 first; the client must fall back to 127.0.0.1.
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->first, 200u);
}

}  // namespace
}  // namespace sluice
