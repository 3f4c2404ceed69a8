#include "echo_server.h"
#include "upstream_calls.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <thread>
#include <string>
#include <utility>
#include <vector>

namespace sluice {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Every client operation gives up after this, so a broken server fails the
// test instead of hanging it.
constexpr auto kClientTimeout = 5s;

using Response = http::response<http::string_body>;
using Headers = std::vector<std::pair<std::string, std::string>>;

std::unique_ptr<EchoServer> start_server(EchoOptions o = {}) {
  o.listen = "127.0.0.1:0";
  if (o.name.empty()) o.name = "echo-pod-a";
  auto server = EchoServer::start(o);
  if (!server) ADD_FAILURE() << server.error().to_string();
  return server ? std::move(*server) : nullptr;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }

// A tiny blocking client over Beast's async API: each call runs its own
// io_context until the operation completes or the stream's timer fires.
class Client {
 public:
  explicit Client(uint16_t port) {
    stream_.expires_after(kClientTimeout);
    connect_error_ = run([&](auto done) {
      stream_.async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), port), done);
    });
  }

  bool connected() const { return !connect_error_; }
  beast::tcp_stream& stream() { return stream_; }
  asio::io_context& ioc() { return ioc_; }

  template <class Start>
  beast::error_code run(Start start) {
    beast::error_code result = asio::error::timed_out;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result;
  }

  beast::error_code send_raw(const std::string& bytes) {
    stream_.expires_after(kClientTimeout);
    return run([&](auto done) { asio::async_write(stream_, asio::buffer(bytes), done); });
  }

  beast::error_code send(http::verb method, const std::string& target, const Headers& headers = {},
                         std::string body = {}, unsigned version = 11) {
    http::request<http::string_body> req{method, target, version};
    req.set(http::field::host, "echo.test");
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = std::move(body);
    req.prepare_payload();
    stream_.expires_after(kClientTimeout);
    return run([&](auto done) { http::async_write(stream_, req, done); });
  }

  // Reads one response; head: the request was HEAD, so no body follows.
  std::pair<beast::error_code, Response> read(bool head = false) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    parser.skip(head);
    stream_.expires_after(kClientTimeout);
    auto ec = run([&](auto done) { http::async_read(stream_, buffer_, parser, done); });
    return {ec, parser.release()};
  }

  Response get(const std::string& target, const Headers& headers = {}) {
    if (auto ec = send(http::verb::get, target, headers)) ADD_FAILURE() << "send: " << ec.message();
    auto [ec, res] = read();
    if (ec) ADD_FAILURE() << "read: " << ec.message();
    return res;
  }

  // Reads until the server closes; returns how it closed and what came first.
  std::pair<beast::error_code, std::string> read_until_closed() {
    std::string out(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    buffer_.consume(buffer_.size());
    char chunk[4096];
    for (;;) {
      std::size_t n = 0;
      stream_.expires_after(kClientTimeout);
      auto ec = run([&](auto done) {
        stream_.async_read_some(asio::buffer(chunk),
                                [&n, done](beast::error_code e, std::size_t got) mutable {
                                  n = got;
                                  done(e);
                                });
      });
      out.append(chunk, n);
      if (ec) return {ec, out};
    }
  }

 private:
  asio::io_context ioc_;
  beast::tcp_stream stream_{ioc_};
  beast::flat_buffer buffer_;
  beast::error_code connect_error_;
};

TEST(EchoServer, IdentityHeadersAndJsonBody) {
  EchoOptions o;
  o.name = "reviews-v2-abc";
  o.version = "v2";
  auto server = start_server(o);
  ASSERT_TRUE(server);
  ASSERT_NE(server->port(), 0);

  Client c(server->port());
  ASSERT_TRUE(c.connected());
  Response res =
      c.get("/hello/world?x=1", {{"X-Custom", "a \"quoted\" \\ value"}, {"Accept", "*/*"}});
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(sv(res["x-echo-pod"]), "reviews-v2-abc");
  EXPECT_EQ(sv(res["x-echo-version"]), "v2");
  EXPECT_EQ(sv(res[http::field::content_type]), "application/json");
  const std::string& body = res.body();
  EXPECT_TRUE(contains(body, R"("pod":"reviews-v2-abc")")) << body;
  EXPECT_TRUE(contains(body, R"("version":"v2")")) << body;
  EXPECT_TRUE(contains(body, R"("method":"GET")")) << body;
  EXPECT_TRUE(contains(body, R"("path":"/hello/world?x=1")")) << body;
  EXPECT_TRUE(contains(body, R"("host":"echo.test")")) << body;
  EXPECT_TRUE(contains(body, R"("x-custom":"a \"quoted\" \\ value")")) << body;
  EXPECT_TRUE(contains(body, R"("accept":"*/*")")) << body;
  EXPECT_TRUE(contains(body, R"("body_bytes":0)")) << body;
  EXPECT_TRUE(contains(body, R"("remote_addr":"127.0.0.1:)")) << body;
  EXPECT_EQ(server->requests(), 1u);
}

TEST(EchoServer, RepeatedHeadersAreJoined) {
  auto server = start_server();
  ASSERT_TRUE(server);
  Client c(server->port());
  ASSERT_FALSE(c.send_raw("GET / HTTP/1.1\r\nHost: h\r\nX-Dup: one\r\nx-dup: two\r\n\r\n"));
  auto [ec, res] = c.read();
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_TRUE(contains(res.body(), R"("x-dup":"one, two")")) << res.body();
}

TEST(EchoServer, HeadHasContentLengthButNoBody) {
  auto server = start_server();
  ASSERT_TRUE(server);
  Client c(server->port());
  ASSERT_FALSE(c.send(http::verb::head, "/"));
  auto [ec, res] = c.read(/*head=*/true);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_GT(std::stoul(std::string(sv(res[http::field::content_length]))), 0u);
  EXPECT_TRUE(res.body().empty());
  // Had a body been sent, it would be read as the next response and fail.
  Response next = c.get("/after-head");
  EXPECT_EQ(next.result_int(), 200);
  EXPECT_TRUE(contains(next.body(), R"("path":"/after-head")"));
}

TEST(EchoServer, Http10IsAnsweredAndClosed) {
  auto server = start_server();
  ASSERT_TRUE(server);
  Client c(server->port());
  ASSERT_FALSE(c.send_raw("GET /old HTTP/1.0\r\n\r\n"));
  auto [ec, out] = c.read_until_closed();
  EXPECT_EQ(ec, beast::error_code(asio::error::eof)) << ec.message();
  EXPECT_EQ(out.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << out;
  EXPECT_TRUE(contains(out, R"("path":"/old")")) << out;
  EXPECT_TRUE(contains(out, R"("host":"")")) << out;
}

TEST(EchoServer, DelayDoesNotBlockOtherConnections) {
  auto server = start_server();  // one thread: the delay must not block it
  ASSERT_TRUE(server);
  Client slow(server->port());
  Client fast(server->port());
  ASSERT_TRUE(slow.connected() && fast.connected());

  const auto slow_sent = Clock::now();
  ASSERT_FALSE(slow.send(http::verb::get, "/slow", {{"x-echo-delay-ms", "600"}}));
  const auto fast_sent = Clock::now();
  ASSERT_FALSE(fast.send(http::verb::get, "/fast"));
  auto [fast_ec, fast_res] = fast.read();
  ASSERT_FALSE(fast_ec) << fast_ec.message();
  EXPECT_EQ(fast_res.result_int(), 200);
  EXPECT_LT(Clock::now() - fast_sent, 300ms);

  auto [slow_ec, slow_res] = slow.read();
  ASSERT_FALSE(slow_ec) << slow_ec.message();
  EXPECT_EQ(slow_res.result_int(), 200);
  EXPECT_GE(Clock::now() - slow_sent, 600ms);
}

TEST(EchoServer, DelayOptionAndQueryOverride) {
  EchoOptions o;
  o.delay_ms = 400;
  auto server = start_server(o);
  ASSERT_TRUE(server);
  Client c(server->port());

  auto t0 = Clock::now();
  EXPECT_EQ(c.get("/").result_int(), 200);
  EXPECT_GE(Clock::now() - t0, 400ms);

  t0 = Clock::now();
  EXPECT_EQ(c.get("/?delay_ms=0").result_int(), 200);
  EXPECT_LT(Clock::now() - t0, 300ms);
}

TEST(EchoServer, StatusOverrideByHeaderAndQuery) {
  auto server = start_server();
  ASSERT_TRUE(server);
  Client c(server->port());

  Response by_header = c.get("/", {{"x-echo-status", "503"}});
  EXPECT_EQ(by_header.result_int(), 503);
  EXPECT_EQ(sv(by_header["x-echo-pod"]), "echo-pod-a");
  EXPECT_TRUE(contains(by_header.body(), R"("pod":"echo-pod-a")"));

  EXPECT_EQ(c.get("/teapot?a=b&status=418").result_int(), 418);
  EXPECT_EQ(c.get("/?status=418", {{"x-echo-status", "429"}}).result_int(), 429);  // header wins
  EXPECT_EQ(c.get("/?status=299").result_int(), 299);  // unknown to Beast, still sent

  Response no_content = c.get("/?status=204");
  EXPECT_EQ(no_content.result_int(), 204);
  EXPECT_TRUE(no_content.body().empty());
  EXPECT_EQ(no_content.count(http::field::content_length), 0u);

  // A bad control is the client's fault: 400, and the connection lives on.
  Response bad = c.get("/?status=abc");
  EXPECT_EQ(bad.result_int(), 400);
  EXPECT_TRUE(contains(bad.body(), "status")) << bad.body();
  EXPECT_EQ(c.get("/", {{"x-echo-status", "99"}}).result_int(), 400);
  EXPECT_EQ(c.get("/").result_int(), 200);
}

TEST(EchoServer, StatusOption) {
  EchoOptions o;
  o.status = 502;
  auto server = start_server(o);
  ASSERT_TRUE(server);
  Client c(server->port());
  EXPECT_EQ(c.get("/").result_int(), 502);
  EXPECT_EQ(c.get("/?status=200").result_int(), 200);
}

int count_status(Client& c, int n, unsigned status) {
  int hits = 0;
  for (int i = 0; i < n; ++i) {
    Response res = c.get("/" + std::to_string(i));
    if (res.result_int() == status) {
      ++hits;
    } else {
      EXPECT_EQ(res.result_int(), 200);
    }
  }
  return hits;
}

TEST(EchoServer, FailPercentIsRoughlyHonored) {
  EchoOptions o;
  o.fail_percent = 25;
  o.seed = 7;
  auto server = start_server(o);
  ASSERT_TRUE(server);
  Client c(server->port());
  const int failed = count_status(c, 200, 503);  // the default failure status
  EXPECT_GE(failed, 25);
  EXPECT_LE(failed, 75);

  // The header still decides when present.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(c.get("/", {{"x-echo-status", "200"}}).result_int(), 200);
}

TEST(EchoServer, FailPercentUsesStatusOption) {
  EchoOptions o;
  o.fail_percent = 50;
  o.status = 500;
  o.seed = 11;
  auto server = start_server(o);
  ASSERT_TRUE(server);
  Client c(server->port());
  const int failed = count_status(c, 200, 500);
  EXPECT_GE(failed, 70);
  EXPECT_LE(failed, 130);
}

TEST(EchoServer, CloseWithoutResponse) {
  auto server = start_server();
  ASSERT_TRUE(server);
  {
    Client c(server->port());
    ASSERT_FALSE(c.send(http::verb::get, "/?close=1"));
    auto [ec, out] = c.read_until_closed();
    EXPECT_EQ(ec, beast::error_code(asio::error::eof)) << ec.message();
    EXPECT_TRUE(out.empty()) << out;
  }
  {
    Client c(server->port());
    ASSERT_FALSE(c.send(http::verb::post, "/", {{"x-echo-close", "1"}}, std::string(1000, 'b')));
    auto [ec, out] = c.read_until_closed();
    EXPECT_EQ(ec, beast::error_code(asio::error::eof)) << ec.message();
    EXPECT_TRUE(out.empty()) << out;
  }
  {
    Client c(server->port());
    ASSERT_FALSE(c.send(http::verb::get, "/", {{"x-echo-close", "reset"}}));
    auto [ec, out] = c.read_until_closed();
    EXPECT_EQ(ec, beast::error_code(asio::error::connection_reset)) << ec.message();
    EXPECT_TRUE(out.empty()) << out;
  }
  EXPECT_EQ(server->requests(), 0u);
}

TEST(EchoServer, KeepAliveOverTenRequests) {
  auto server = start_server();
  ASSERT_TRUE(server);
  Client c(server->port());
  ASSERT_TRUE(c.connected());
  std::string first_remote;
  for (int i = 0; i < 10; ++i) {
    Response res = c.get("/req/" + std::to_string(i));
    ASSERT_EQ(res.result_int(), 200);
    EXPECT_TRUE(res.keep_alive());
    EXPECT_TRUE(contains(res.body(), "\"path\":\"/req/" + std::to_string(i) + "\""));
    // The server sees the same client port each time: one connection.
    auto at = res.body().find("\"remote_addr\":");
    ASSERT_NE(at, std::string::npos);
    std::string remote = res.body().substr(at, res.body().find(',', at) - at);
    if (i == 0) first_remote = remote;
    EXPECT_EQ(remote, first_remote);
  }
  EXPECT_EQ(server->requests(), 10u);

  // Pipelined requests are answered in order.
  ASSERT_FALSE(
      c.send_raw("GET /p1 HTTP/1.1\r\nHost: h\r\n\r\nGET /p2 HTTP/1.1\r\nHost: h\r\n\r\n"));
  auto [ec1, r1] = c.read();
  auto [ec2, r2] = c.read();
  ASSERT_FALSE(ec1 || ec2);
  EXPECT_TRUE(contains(r1.body(), R"("path":"/p1")"));
  EXPECT_TRUE(contains(r2.body(), R"("path":"/p2")"));
}

TEST(EchoServer, CloseAfterEndsTheConnection) {
  EchoOptions o;
  o.close_after = 3;
  auto server = start_server(o);
  ASSERT_TRUE(server);
  Client c(server->port());
  EXPECT_TRUE(c.get("/1").keep_alive());
  EXPECT_TRUE(c.get("/2").keep_alive());
  Response third = c.get("/3");
  EXPECT_EQ(third.result_int(), 200);
  EXPECT_FALSE(third.keep_alive());
  auto [ec, out] = c.read_until_closed();
  EXPECT_EQ(ec, beast::error_code(asio::error::eof)) << ec.message();
  EXPECT_TRUE(out.empty());
}

constexpr std::size_t kMiB = 1024 * 1024;

TEST(EchoServer, ContentLengthBodyIsConsumed) {
  auto server = start_server();
  ASSERT_TRUE(server);
  Client c(server->port());
  ASSERT_FALSE(c.send(http::verb::post, "/upload", {}, std::string(kMiB, 'x')));
  auto [ec, res] = c.read();
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_TRUE(contains(res.body(), "\"body_bytes\":" + std::to_string(kMiB))) << res.body();
  EXPECT_TRUE(contains(res.body(), R"("method":"POST")"));
  // The body was consumed exactly: the next request on the connection parses.
  EXPECT_EQ(c.get("/next").result_int(), 200);
}

TEST(EchoServer, ChunkedBodyIsConsumed) {
  auto server = start_server();
  ASSERT_TRUE(server);
  Client c(server->port());
  ASSERT_FALSE(
      c.send_raw("PUT /chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"));
  // Uneven chunks, one with an extension, then a trailer.
  std::size_t sent = 0;
  std::size_t size = 1;
  while (sent < kMiB) {
    const std::size_t n = std::min(size, kMiB - sent);
    char head[32];
    std::snprintf(head, sizeof head, sent == 0 ? "%zx;ext=1\r\n" : "%zx\r\n", n);
    ASSERT_FALSE(c.send_raw(head + std::string(n, 'y') + "\r\n"));
    sent += n;
    size = size * 3 + 7;
  }
  ASSERT_FALSE(c.send_raw("0\r\nx-trailer: t\r\n\r\n"));
  auto [ec, res] = c.read();
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_TRUE(contains(res.body(), "\"body_bytes\":" + std::to_string(kMiB))) << res.body();
  EXPECT_EQ(c.get("/next").result_int(), 200);
}

TEST(EchoServer, ExpectContinueGetsInterimResponse) {
  auto server = start_server();
  ASSERT_TRUE(server);
  Client c(server->port());
  ASSERT_FALSE(c.send_raw(
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  auto [ec, interim] = c.read();
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(interim.result_int(), 100);
  ASSERT_FALSE(c.send_raw("hello"));
  auto [ec2, res] = c.read();
  ASSERT_FALSE(ec2) << ec2.message();
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_TRUE(contains(res.body(), R"("body_bytes":5)")) << res.body();
}

TEST(EchoServer, ResponseBodyBytes) {
  auto server = start_server();
  ASSERT_TRUE(server);
  Client c(server->port());

  const std::size_t big = 3 * kMiB + 123;  // several writes of the filler block
  Response res = c.get("/?body_bytes=" + std::to_string(big));
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body().size(), big);
  EXPECT_EQ(sv(res[http::field::content_type]), "application/octet-stream");
  EXPECT_EQ(sv(res["x-echo-pod"]), "echo-pod-a");

  Response small = c.get("/", {{"x-echo-body-bytes", "10"}, {"x-echo-status", "503"}});
  EXPECT_EQ(small.result_int(), 503);
  EXPECT_EQ(small.body(), "0123456789");

  EXPECT_TRUE(c.get("/?body_bytes=0").body().empty());
  Response no_content = c.get("/?body_bytes=10&status=204");
  EXPECT_EQ(no_content.result_int(), 204);
  EXPECT_TRUE(no_content.body().empty());
  EXPECT_EQ(no_content.count(http::field::content_length), 0u);

  ASSERT_FALSE(c.send(http::verb::head, "/?body_bytes=5000"));
  auto [ec, head] = c.read(/*head=*/true);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(sv(head[http::field::content_length]), "5000");
  EXPECT_TRUE(head.body().empty());
  EXPECT_EQ(c.get("/still-in-sync").result_int(), 200);
}

TEST(EchoServer, MalformedRequestGets400AndClose) {
  auto server = start_server();
  ASSERT_TRUE(server);
  {
    Client c(server->port());
    ASSERT_FALSE(c.send_raw("GET / HTTP/1.1\r\nHost: h\r\nthis is not a header\r\n\r\n"));
    auto [ec, out] = c.read_until_closed();
    EXPECT_EQ(ec, beast::error_code(asio::error::eof)) << ec.message();
    EXPECT_EQ(out.rfind("HTTP/1.1 400 ", 0), 0u) << out;
    EXPECT_TRUE(contains(out, "Connection: close")) << out;
  }
  {
    Client c(server->port());
    ASSERT_FALSE(
        c.send_raw("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"));
    auto [ec, out] = c.read_until_closed();
    EXPECT_EQ(out.rfind("HTTP/1.1 400 ", 0), 0u) << out;
  }
  {
    Client c(server->port());
    ASSERT_FALSE(c.send_raw(
        "GET / HTTP/1.1\r\nX-Big: " + std::string(EchoServer::kMaxHeaderBytes, 'h') + "\r\n\r\n"));
    auto [ec, out] = c.read_until_closed();
    EXPECT_EQ(out.rfind("HTTP/1.1 431 ", 0), 0u) << out.substr(0, 100);
  }
}

TEST(EchoServer, WebSocketEcho) {
  auto server = start_server();
  ASSERT_TRUE(server);
  Client c(server->port());
  ASSERT_TRUE(c.connected());
  websocket::stream<beast::tcp_stream&> ws(c.stream());

  websocket::response_type handshake;
  c.stream().expires_after(kClientTimeout);
  auto ec = c.run([&](auto done) { ws.async_handshake(handshake, "echo.test", "/ws", done); });
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(handshake.result(), http::status::switching_protocols);
  EXPECT_EQ(sv(handshake["x-echo-pod"]), "echo-pod-a");

  auto round_trip = [&](const std::string& message, bool text) {
    ws.text(text);
    c.stream().expires_after(kClientTimeout);
    auto wec = c.run([&](auto done) { ws.async_write(asio::buffer(message), done); });
    ASSERT_FALSE(wec) << wec.message();
    beast::flat_buffer in;
    c.stream().expires_after(kClientTimeout);
    auto rec = c.run([&](auto done) { ws.async_read(in, done); });
    ASSERT_FALSE(rec) << rec.message();
    EXPECT_EQ(beast::buffers_to_string(in.data()), message);
    EXPECT_EQ(ws.got_text(), text);
  };
  round_trip("hello through the tunnel", true);
  round_trip(std::string("\x00\x01\xff binary", 10), false);
  round_trip(std::string(200 * 1024, 'w'), false);

  c.stream().expires_after(kClientTimeout);
  ec = c.run([&](auto done) { ws.async_close(websocket::close_code::normal, done); });
  EXPECT_FALSE(ec) << ec.message();
}

TEST(EchoServer, ThreadsShareOnePort) {
  EchoOptions o;
  o.threads = 3;
  auto server = start_server(o);
  ASSERT_TRUE(server);
  for (int i = 0; i < 30; ++i) {
    Client c(server->port());
    ASSERT_TRUE(c.connected());
    EXPECT_EQ(c.get("/").result_int(), 200);
  }
  EXPECT_EQ(server->requests(), 30u);
}

TEST(EchoServer, StopIsPromptWithClientsConnected) {
  EchoOptions o;
  o.threads = 2;
  auto server = start_server(o);
  ASSERT_TRUE(server);

  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<Client>(server->port()));
    ASSERT_TRUE(clients.back()->connected());
  }
  // 0 stays idle, 1 waits on a long delay, 2 is halfway through a body,
  // 3 holds a WebSocket.
  ASSERT_FALSE(clients[1]->send(http::verb::get, "/", {{"x-echo-delay-ms", "30000"}}));
  ASSERT_FALSE(
      clients[2]->send_raw("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\npartial"));
  websocket::stream<beast::tcp_stream&> ws(clients[3]->stream());
  clients[3]->stream().expires_after(kClientTimeout);
  ASSERT_FALSE(clients[3]->run([&](auto done) { ws.async_handshake("h", "/", done); }));
  std::this_thread::sleep_for(100ms);  // let the server reach each state

  const auto t0 = Clock::now();
  server->stop();
  EXPECT_LT(Clock::now() - t0, 1s);
  server->stop();  // idempotent

  for (int i = 0; i < 3; ++i) {
    const auto before = Clock::now();
    auto [ec, out] = clients[i]->read_until_closed();
    EXPECT_NE(ec, beast::error_code(beast::error::timeout)) << "client " << i;
    EXPECT_LT(Clock::now() - before, 1s) << "client " << i;
    EXPECT_TRUE(out.empty()) << "client " << i << ": " << out;
  }
  beast::flat_buffer in;
  clients[3]->stream().expires_after(kClientTimeout);
  auto ec = clients[3]->run([&](auto done) { ws.async_read(in, done); });
  EXPECT_TRUE(ec);
  EXPECT_NE(ec, beast::error_code(beast::error::timeout));

  EXPECT_NE(Client(server->port()).connected(), true);  // the listeners are gone
}

TEST(EchoServer, StartRejectsBadOptions) {
  auto expect_error = [](EchoOptions o, const std::string& what) {
    auto server = EchoServer::start(o);
    ASSERT_FALSE(server) << what;
    EXPECT_FALSE(server.error().message.empty()) << what;
  };
  EchoOptions o;
  o.listen = "nonsense";
  expect_error(o, "no port");
  o.listen = "127.0.0.1:70000";
  expect_error(o, "port out of range");
  o.listen = "localhost:8080";
  expect_error(o, "not numeric");
  o.listen = "127.0.0.1:0";
  o.threads = 0;
  expect_error(o, "no threads");
  o.threads = 1;
  o.fail_percent = 150;
  expect_error(o, "fail percent");
  o.fail_percent = 0;
  o.status = 99;
  expect_error(o, "status");

  o.status = 0;
  o.name = "evil\r\nx-injected: 1";
  expect_error(o, "name with CRLF");
  o.name = "";
  o.listen = "[::1]:0";
  auto v6 = EchoServer::start(o);  // IPv6 loopback may be missing in a sandbox
  if (v6) {
    EXPECT_NE((*v6)->port(), 0);
  }
}

TEST(EchoServer, ChunkedGeneratedBody) {
  auto server = start_server();
  ASSERT_TRUE(server);
  Client c(server->port());
  Response res = c.get("/?body_bytes=200000&chunked=1");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body().size(), 200000u);
  EXPECT_TRUE(res.chunked());
  EXPECT_EQ(res.count(http::field::content_length), 0u);
  EXPECT_EQ(res.body().substr(0, 12), "0123456789ab");
  EXPECT_EQ(c.get("/?chunked=maybe").result_int(), 400);
}

TEST(EchoServer, ReportsTheRequestBodyHash) {
  auto server = start_server();
  ASSERT_TRUE(server);
  Client c(server->port());
  // FNV-1a 64 of "hello" and of nothing.
  ASSERT_FALSE(c.send_raw("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"));
  auto [ec, res] = c.read();
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_TRUE(contains(res.body(), R"("body_fnv1a":"a430d84680aabd0b")")) << res.body();
  EXPECT_TRUE(contains(c.get("/").body(), R"("body_fnv1a":"cbf29ce484222325")"));
}

TEST(EchoServer, CallsOnAndReportsTheChain) {
  EchoOptions leaf_options;
  leaf_options.name = "ratings-1";
  auto leaf = start_server(leaf_options);
  ASSERT_TRUE(leaf);
  EchoOptions mid_options;
  mid_options.name = "reviews-v2";
  mid_options.version = "v2";
  mid_options.calls = {"http://127.0.0.1:" + std::to_string(leaf->port()) + "/ratings"};
  auto mid = start_server(mid_options);
  ASSERT_TRUE(mid);
  EchoOptions top_options;
  top_options.name = "productpage-1";
  // Port 1 on loopback: nobody listens there, so that call fails.
  top_options.calls = {"http://127.0.0.1:" + std::to_string(mid->port()) + "/reviews", "http://127.0.0.1:1/details"};
  auto top = start_server(top_options);
  ASSERT_TRUE(top);

  Client c(top->port());
  // Routing and tracing headers travel down the chain; echo controls do not.
  Response res = c.get("/", {{"end-user", "jason"}, {"x-echo-status", "201"}});
  EXPECT_EQ(res.result_int(), 201);
  EXPECT_EQ(sv(res["x-echo-chain"]),
            "productpage-1/v1[reviews-v2/v2[ratings-1/v1], 127.0.0.1:1=error(connect: Connection refused)]");
  EXPECT_EQ(leaf->requests(), 1u);

  EXPECT_TRUE(propagated_header("end-user"));
  EXPECT_TRUE(propagated_header("traceparent"));
  EXPECT_FALSE(propagated_header("x-echo-status"));
}

TEST(EchoServer, CallUrlsAreChecked) {
  auto t = parse_call_url("http://reviews:9080/a?b=1");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "reviews");
  EXPECT_EQ(t->port, "9080");
  EXPECT_EQ(t->target, "/a?b=1");
  auto plain = parse_call_url("http://details");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->port, "80");
  EXPECT_EQ(plain->target, "/");
  EXPECT_FALSE(parse_call_url("https://x/"));
  EXPECT_FALSE(parse_call_url("http://:80/"));
  EXPECT_FALSE(parse_call_url("http://x:99999/"));
  EchoOptions bad;
  bad.calls = {"ftp://x/"};
  EXPECT_FALSE(EchoServer::start(bad));
}

}  // namespace
}  // namespace sluice
