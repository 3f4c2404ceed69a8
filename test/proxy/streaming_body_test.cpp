// An HTTP/1.1 request body past the retry buffer, read for mirrors
// (StreamingBodyOf's feed, upstream/streaming_body.h), on real loopback
// sockets: the attempt and each copy get every byte, a copy that lags is
// dropped, and release() stops a feed that waits on a stalled client.
#include <gtest/gtest.h>

#include <utility>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "streaming_body.h"

namespace sluice::proxy {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;

// A loopback connection: the test's blocking end, and the proxy's end on `ioc`.
struct Loopback {
  explicit Loopback(asio::io_context& ioc) : stream(ioc) {
    Acceptor acceptor(ioc, asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{10, 0};  // a stall fails the test rather than hanging it
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(acceptor.local_endpoint().port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    if (connected) stream.socket() = acceptor.accept();
  }
  ~Loopback() { ::close(fd); }
  void send(const std::string& bytes) const {
    for (size_t off = 0; off < bytes.size();) {
      const ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }
  std::string read_all() const {
    std::string got;
    char buf[16384];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, static_cast<size_t>(n));
    return got;
  }

  int fd = -1;
  bool connected = false;
  TcpStream stream;
};

std::string copy_of(RequestBodyPipe& copy) {
  std::string out(copy.received(), '\0');
  return std::string(out.data(), copy.read(0, out.data(), out.size()));
}

void run(asio::io_context& ioc, Task<void> task) {
  asio::co_spawn(ioc, std::move(task), asio::detached);
  ioc.run();
}

// The attempt reads the body as PipedBody does, and each copy is fed the same
// bytes; a copy nobody reads is dropped at its budget, the others are whole.
TEST(StreamingBodyFeedTest, TheAttemptAndEachCopyGetTheBodyAndALaggingCopyIsDropped) {
  asio::io_context ioc;
  Loopback down(ioc), up(ioc);
  ASSERT_TRUE(down.connected && up.connected);
  std::string body(300 * 1000, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + (i * 7) % 26);
  const std::string head = "POST /x HTTP/1.1\r\nHost: web\r\nContent-Length: 300000\r\n\r\n";
  std::thread client([&] { down.send(head + body); });
  std::string upstream;
  std::thread server([&] { upstream = up.read_all(); });

  std::shared_ptr<RequestBodyPipe> kept, dropped;
  uint64_t relayed = 0;
  beast::error_code ec;
  run(ioc, [&]() -> Task<void> {
    beast::flat_buffer buffer;
    RequestBodyParser parser;
    co_await http::async_read_header(down.stream, buffer, parser, redirect(ec));
    if (ec) co_return;
    StreamingBodyOf<TcpStream> rest(down.stream, buffer, parser);
    kept = rest.tee("", 1 << 20);
    dropped = rest.tee("", 64 * 1024);
    StreamRequest out(parser.get().base());
    relayed = co_await rest.relay_to(up.stream, out, "", ec);
    co_await rest.release();
    up.stream.close();
  }());
  client.join();
  server.join();
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(relayed, body.size());
  const size_t body_at = upstream.find("\r\n\r\n");
  ASSERT_NE(body_at, std::string::npos);
  EXPECT_EQ(upstream.substr(body_at + 4), body);
  ASSERT_TRUE(kept && dropped);
  EXPECT_TRUE(kept->ended());
  EXPECT_EQ(copy_of(*kept), body);
  EXPECT_TRUE(dropped->overrun());
  EXPECT_TRUE(dropped->failed());
}

// A client that stops sending mid-body while the request is answered: the
// feed stops at release(), whether it waits for the attempt to take a piece
// (`sent` past one piece) or on the client's socket (less), and the copies
// fail with what came before.
void expect_release_stops_the_feed(size_t sent, size_t fed) {
  asio::io_context ioc;
  Loopback down(ioc);
  ASSERT_TRUE(down.connected);
  down.send("POST /x HTTP/1.1\r\nHost: web\r\nContent-Length: 100000\r\n\r\n" + std::string(sent, 'b'));
  std::shared_ptr<RequestBodyPipe> copy;
  bool parser_done = true;
  run(ioc, [&]() -> Task<void> {
    beast::flat_buffer buffer;
    RequestBodyParser parser;
    beast::error_code ec;
    co_await http::async_read_header(down.stream, buffer, parser, redirect(ec));
    if (ec) co_return;
    StreamingBodyOf<TcpStream> rest(down.stream, buffer, parser);
    copy = rest.tee("first", 1 << 20);
    // Until the feed has read what it can, and waits.
    Timer poll(ioc);
    int polls = 0;
    do {
      poll.expires_after(1ms);
      co_await poll.async_wait(redirect(ec));
    } while (copy->received() < 5 + fed && ++polls < 10000);
    co_await rest.release();
    parser_done = parser.is_done();
  }());
  ASSERT_TRUE(copy);
  EXPECT_FALSE(parser_done);
  EXPECT_EQ(copy->received(), 5 + fed);
  EXPECT_TRUE(copy->failed());
  EXPECT_FALSE(copy->overrun());
  EXPECT_EQ(copy_of(*copy), "first" + std::string(fed, 'b'));  // what came, then the failure
}

TEST(StreamingBodyFeedTest, ReleaseStopsAFeedWaitingForTheAttempt) {
  expect_release_stops_the_feed(20000, kRelayChunkBytes);
}

// A piece is handed on when it is full (as without mirrors: Beast reads a
// buffer_body until its buffer is full or the body ends), so 1000 bytes
// are still being read.
TEST(StreamingBodyFeedTest, ReleaseStopsAFeedWaitingOnTheClient) { expect_release_stops_the_feed(1000, 0); }

}  // namespace
}  // namespace sluice::proxy
