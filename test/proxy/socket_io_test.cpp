// write_all (socket_io.h), the h2 writers' socket writes, on a real
// loopback TCP connection: a write the kernel takes at once does not
// suspend, a write larger than the socket buffers waits for room and
// arrives whole and in order, and a write to a closed peer fails with an
// error, not a SIGPIPE.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <thread>

#include "socket_io.h"

namespace sluice::proxy {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// A connected pair over loopback: `ours` on the io_context, `peer` a plain
// blocking descriptor the test drives.
struct Pair {
  asio::io_context ioc{1};
  Socket ours{ioc};
  int peer = -1;

  Pair() {
    Acceptor acceptor(ioc, asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    peer = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(acceptor.local_endpoint().port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(peer, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ours = acceptor.accept();
  }
  ~Pair() {
    if (peer >= 0) ::close(peer);
  }
  void send(const std::string& s) { ASSERT_EQ(::send(peer, s.data(), s.size(), 0), static_cast<ssize_t>(s.size())); }

  // Runs `task` to its end (bounded: a hang fails, it does not block the suite).
  void run(Task<void> task) {
    bool done = false;
    asio::co_spawn(ioc, std::move(task), [&done](std::exception_ptr) { done = true; });
    ioc.run_for(10s);
    EXPECT_TRUE(done);
  }
};

TEST(SocketIo, AWriteTheSocketTakesAtOnceNeverSuspends) {
  Pair p;
  boost::beast::error_code ec;
  bool suspended = true;
  p.run([&]() -> Task<void> {
    // A handler queued now runs only if the writer suspends before it ends.
    bool other_ran = false;
    asio::post(p.ioc, [&other_ran] { other_ran = true; });
    co_await write_all(p.ours, asio::buffer(std::string_view("hello")), ec);
    suspended = other_ran;
  }());
  EXPECT_FALSE(ec);
  EXPECT_FALSE(suspended);
  char buf[8];
  EXPECT_EQ(::recv(p.peer, buf, sizeof buf, 0), 5);
}

TEST(SocketIo, AWriteToAClosedPeerFailsWithoutASignal) {
  Pair p;
  ::close(p.peer);
  p.peer = -1;
  boost::beast::error_code ec;
  const std::string chunk(1 << 20, 'x');
  p.run([&]() -> Task<void> {
    // The first sends may land in buffers; the reset comes within a few.
    for (int i = 0; i < 64 && !ec; ++i) co_await write_all(p.ours, asio::buffer(chunk), ec);
  }());
  EXPECT_TRUE(ec);
}

TEST(SocketIo, AWriteLargerThanTheSocketBuffersArrivesWholeAndInOrder) {
  Pair p;
  std::string big(8 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  std::string received;
  // A slow reader: the sender meets a full socket and must wait for room.
  std::thread reader([&] {
    char buf[65536];
    for (ssize_t n; (n = ::recv(p.peer, buf, sizeof buf, 0)) > 0;) {
      received.append(buf, static_cast<std::size_t>(n));
      if (received.size() < (1u << 20)) std::this_thread::sleep_for(1ms);
    }
  });
  boost::beast::error_code ec;
  p.run([&]() -> Task<void> {
    co_await write_all(p.ours, asio::buffer(big), ec);
    p.ours.shutdown(Socket::shutdown_send);
  }());
  reader.join();
  EXPECT_FALSE(ec);
  EXPECT_EQ(received.size(), big.size());
  EXPECT_TRUE(received == big);
}

}  // namespace
}  // namespace sluice::proxy
