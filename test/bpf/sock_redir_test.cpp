// bpf/sock_redir.bpf.c in the real kernel: pods on a simulated node talk
// over real TCP sockets with the sockhash redirect on, off and auto, and the
// tests check the bytes (half-close, large writes, MSG_PEEK, splice, auto's
// switch to the stack), the counters and the sockhash fill. Privileged.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "kernel_datapath_maps.h"
#include "node_sim.h"
#include "pod_sockets.h"
#include "service_text.h"
#include "service_writer.h"
#include "sock_lb_loader.h"
#include "sock_redir_loader.h"

using namespace sluice;
using namespace std::chrono_literals;

namespace {

constexpr uint16_t kPort = 7000;
constexpr const char* kVip = "10.96.0.50";

bool write_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads until EOF (or `limit` bytes), with a 10 s guard per read.
std::string read_all(int fd, size_t limit = SIZE_MAX) {
  std::string out;
  char buf[64 * 1024];
  while (out.size() < limit) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 10000) != 1) break;
    ssize_t n = ::read(fd, buf, std::min(sizeof buf, limit - out.size()));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string pattern(size_t n, char seed = 0) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + static_cast<size_t>(seed)) % 26);
  return s;
}

// A TCP server in a pod: accepts connections and runs `handle(fd)` on each
// until stopped: one at a time, or each on its own thread.
class PodServer {
 public:
  PodServer(int listen_fd, std::function<void(int)> handle, bool concurrent)
      : fd_(listen_fd), handle_(std::move(handle)) {
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(kPort);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd_, 4096) != 0) {
      ADD_FAILURE() << "bind/listen: " << strerror(errno);
    }
    thread_ = std::thread([this, concurrent] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 50) != 1) continue;
        int c = accept(fd_, nullptr, nullptr);
        if (c < 0) continue;
        auto serve_one = [this, c] {
          handle_(c);
          close(c);
        };
        if (concurrent) {
          workers_.emplace_back(serve_one);
        } else {
          serve_one();
        }
      }
    });
  }
  ~PodServer() {
    stop_ = true;
    thread_.join();
    for (std::thread& t : workers_) t.join();
    close(fd_);
  }

 private:
  int fd_;
  std::function<void(int)> handle_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::thread> workers_;
};

// Echoes everything until the client half-closes, then half-closes too.
void echo_until_eof(int fd) {
  char buf[64 * 1024];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 10000) != 1) return;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    if (!write_all(fd, std::string(buf, static_cast<size_t>(n)))) return;
  }
  shutdown(fd, SHUT_WR);
}

class SockRedirTest : public sluice::test::NodeTest {
 protected:
  int pod_count() const override { return 3; }

  void SetUp() override {
    NodeTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    node_->join_cgroup();
  }

  void TearDown() override {
    server_.reset();
    if (redir_) (void)redir_->detach();
    if (lb_) (void)lb_->detach();
    tables_.reset();
    redir_.reset();
    lb_.reset();
    if (node_) (void)SockLb::remove_pins(node_->pin_dir());
    NodeTest::TearDown();
  }

  void load(sl_redir_mode mode, uint32_t sockhash_entries = SL_REDIR_DEFAULT_SOCKHASH_ENTRIES,
            uint32_t bulk_bytes = 32 * 1024) {
    auto lb = SockLb::load(SockLbOptions{.pin_dir = node_->pin_dir()});
    ASSERT_TRUE(lb.ok()) << lb.error().to_string();
    lb_ = std::move(*lb);
    ASSERT_TRUE(lb_->attach({node_->cgroup_path(), false}).ok());
    tables_ = std::make_unique<KernelDatapathMaps>(lb_->maps());
    SockRedirOptions o;
    o.pin_dir = node_->pin_dir();
    o.mode = mode;
    o.local_net = node_->pod_ip_u32(1) & 0xffff0000u;  // 10.200.0.0/16
    o.local_prefix_len = 16;
    o.node_ip = node_->node_ip_u32();
    o.sockhash_entries = sockhash_entries;
    o.bulk_bytes = bulk_bytes;
    auto r = SockRedir::load(o);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    redir_ = std::move(*r);
    Status s = redir_->attach({node_->cgroup_path(), false});
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    add_service(kVip);
  }

  void serve(std::function<void(int)> handle, bool concurrent = true) {
    server_ = std::make_unique<PodServer>(node_->tcp_socket_in_pod(2), std::move(handle), concurrent);
  }

  // An L4 service kVip:kPort with pod 2 as its backend.
  ServiceSpec add_service(const std::string& vip, bool socket_redirect = true) {
    auto spec = parse_service_line(vip + ":" + std::to_string(kPort) + "/tcp " + node_->pod_ip(2) + ":" +
                                   std::to_string(kPort));
    EXPECT_TRUE(spec.ok());
    spec->socket_redirect = socket_redirect;
    EXPECT_TRUE(ServiceWriter(*tables_).apply(*spec).ok());
    return *spec;
  }

  // A connected socket from pod 1 to ip:kPort (by default the service VIP).
  int dial(const std::string& ip = kVip) {
    int fd = node_->tcp_socket_in_pod(1);
    EXPECT_EQ(sluice::test::connect_to(fd, ip, kPort), 0);
    return fd;
  }

  uint64_t stat(sl_redir_stat s) { return (*redir_->stats())[s]; }

  // Sockets leave the sockhash as they close, which TCP finishes asynchronously.
  bool wait_fill(uint32_t want) {
    for (int i = 0; i < 300; ++i) {
      if (*redir_->sockhash_fill() == want) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  // Sends `data`, half-closes, and returns everything echoed back.
  std::string round_trip(int fd, const std::string& data) {
    std::string got;
    std::thread reader([&] { got = read_all(fd); });
    EXPECT_TRUE(write_all(fd, data));
    shutdown(fd, SHUT_WR);
    reader.join();
    return got;
  }

  std::unique_ptr<SockLb> lb_;
  std::unique_ptr<SockRedir> redir_;
  std::unique_ptr<KernelDatapathMaps> tables_;
  std::unique_ptr<PodServer> server_;
};

TEST_F(SockRedirTest, PodToPodBytesSkipTheStackAndAreCounted) {
  load(SL_REDIR_ON);
  serve(echo_until_eof);
  int fd = dial();
  EXPECT_EQ(*redir_->sockhash_fill(), 2u) << "both ends inserted";
  const std::string data = pattern(100000);
  EXPECT_EQ(round_trip(fd, data), data);
  close(fd);
  EXPECT_EQ(stat(SL_RS_INSERTED), 2u);
  EXPECT_GT(stat(SL_RS_MSG_REDIRECTED), 0u);
  EXPECT_EQ(stat(SL_RS_BYTES_REDIRECTED), 2 * data.size()) << "both directions, every byte counted";
  EXPECT_EQ(stat(SL_RS_MSG_MISS), 0u);
  EXPECT_TRUE(wait_fill(0)) << "closed sockets leave the sockhash";
  EXPECT_EQ(stat(SL_RS_REMOVED), 2u);
}

TEST_F(SockRedirTest, OffInsertsNothing) {
  load(SL_REDIR_OFF);
  serve(echo_until_eof);
  int fd = dial();
  EXPECT_EQ(round_trip(fd, "hello"), "hello");
  close(fd);
  EXPECT_EQ(*redir_->sockhash_fill(), 0u);
  EXPECT_EQ(stat(SL_RS_INSERTED), 0u);
}

TEST_F(SockRedirTest, ConnectionCountersAndGetpeernameStillWork) {
  load(SL_REDIR_ON);
  serve(echo_until_eof);
  const sl_svc_key key = service_key(*parse_service_line(std::string(kVip) + ":" + std::to_string(kPort) + "/tcp"));
  int fd = dial();
  EXPECT_EQ(sluice::test::peer_of(fd), std::string(kVip) + ":" + std::to_string(kPort)) << "getpeername shows the VIP";
  EXPECT_EQ(tables_->get_service_counters(key)->active, 1u);
  EXPECT_EQ(round_trip(fd, "ping"), "ping");
  EXPECT_GT(stat(SL_RS_MSG_REDIRECTED), 0u);
  close(fd);
  for (int i = 0; i < 200 && tables_->get_service_counters(key)->active != 0; ++i) std::this_thread::sleep_for(10ms);
  auto c = tables_->get_service_counters(key);
  EXPECT_EQ(c->active, 0u);
  EXPECT_EQ(c->total, 1u);
}

TEST_F(SockRedirTest, PodToPodByAddressStaysOnTheStack) {
  load(SL_REDIR_ON);
  serve(echo_until_eof);
  int fd = dial(node_->pod_ip(2));
  EXPECT_EQ(round_trip(fd, "ping"), "ping");
  close(fd);
  EXPECT_EQ(stat(SL_RS_INSERTED), 0u);
  EXPECT_EQ(stat(SL_RS_NOT_SERVICE), 1u);
}

TEST_F(SockRedirTest, AServiceThatOptsOutStaysOnTheStack) {
  load(SL_REDIR_ON);
  serve(echo_until_eof);
  add_service("10.96.0.51", /*socket_redirect=*/false);
  int fd = dial("10.96.0.51");
  EXPECT_EQ(round_trip(fd, "ping"), "ping");
  close(fd);
  EXPECT_EQ(stat(SL_RS_OPTED_OUT), 1u);
  EXPECT_EQ(stat(SL_RS_INSERTED), 0u);
  EXPECT_EQ(stat(SL_RS_MSG_REDIRECTED), 0u);
}

TEST_F(SockRedirTest, HalfCloseAndLargeWrites) {
  load(SL_REDIR_ON);
  // The server reads everything first, then answers after the client's FIN.
  serve([](int fd) {
    const std::string got = read_all(fd);
    write_all(fd, std::to_string(got.size()) + ":" + std::to_string(std::hash<std::string>{}(got)));
    shutdown(fd, SHUT_WR);
  });
  int fd = dial();
  const std::string big = pattern(16 * 1024 * 1024, 3);
  const std::string reply = round_trip(fd, big);  // one 16 MiB send
  close(fd);
  EXPECT_EQ(reply, std::to_string(big.size()) + ":" + std::to_string(std::hash<std::string>{}(big)));
  EXPECT_GT(stat(SL_RS_MSG_REDIRECTED), 0u);
}

TEST_F(SockRedirTest, PeekReadersSeeRedirectedBytes) {
  load(SL_REDIR_ON);
  std::string peeked, read_after;
  serve([&](int fd) {
    char buf[16] = {};
    pollfd p{fd, POLLIN, 0};
    poll(&p, 1, 5000);
    ssize_t n = recv(fd, buf, 5, MSG_PEEK);
    if (n > 0) peeked.assign(buf, static_cast<size_t>(n));
    read_after = read_all(fd);
    write_all(fd, "done");
    shutdown(fd, SHUT_WR);
  });
  int fd = dial();
  const std::string data = "hello, peeked world " + pattern(200000);
  EXPECT_EQ(round_trip(fd, data), "done");
  close(fd);
  server_.reset();
  EXPECT_EQ(peeked, "hello");
  EXPECT_TRUE(read_after == data) << "the peeked bytes are read again, then the rest";
  EXPECT_GT(stat(SL_RS_MSG_REDIRECTED), 0u);
}

// splice(2) cannot see bytes in the sockmap ingress queue (kernel limit), so
// a service whose servers splice opts out, and then splice works as before.
TEST_F(SockRedirTest, SpliceReadersWorkWhenTheirServiceOptsOut) {
  load(SL_REDIR_ON);
  std::string spliced;
  serve([&](int fd) {
    int pipefd[2];
    if (pipe(pipefd) != 0) return;
    pollfd p{fd, POLLIN, 0};
    for (;;) {
      poll(&p, 1, 5000);
      ssize_t m = splice(fd, nullptr, pipefd[1], nullptr, 65536, 0);
      if (m <= 0) break;
      char tmp[65536];
      ssize_t r = read(pipefd[0], tmp, static_cast<size_t>(m));
      if (r > 0) spliced.append(tmp, static_cast<size_t>(r));
    }
    close(pipefd[0]);
    close(pipefd[1]);
    write_all(fd, "done");
    shutdown(fd, SHUT_WR);
  });
  add_service("10.96.0.52", /*socket_redirect=*/false);
  int fd = dial("10.96.0.52");
  const std::string data = pattern(300000);
  EXPECT_EQ(round_trip(fd, data), "done");
  close(fd);
  server_.reset();
  EXPECT_TRUE(spliced == data) << spliced.size() << " of " << data.size() << " bytes spliced";
}

TEST_F(SockRedirTest, AutoMovesABulkSenderToTheStackInOrder) {
  load(SL_REDIR_AUTO);
  serve(echo_until_eof);
  int fd = dial();
  // Small messages first (redirected), then one bulk-sized message, then
  // small ones again: the echo must come back in order.
  std::string sent, got;
  std::thread reader([&] { got = read_all(fd); });
  for (int i = 0; i < 50; ++i) {
    const std::string m = pattern(100, static_cast<char>(i));
    ASSERT_TRUE(write_all(fd, m));
    sent += m;
  }
  const std::string bulk = pattern(256 * 1024, 9);
  ASSERT_TRUE(write_all(fd, bulk));
  sent += bulk;
  for (int i = 0; i < 50; ++i) {
    const std::string m = pattern(100, static_cast<char>(i + 1));
    ASSERT_TRUE(write_all(fd, m));
    sent += m;
  }
  shutdown(fd, SHUT_WR);
  reader.join();
  close(fd);
  EXPECT_EQ(got.size(), sent.size());
  EXPECT_TRUE(got == sent) << "bytes reordered across the switch";
  EXPECT_GT(stat(SL_RS_MSG_REDIRECTED), 0u);
  EXPECT_GT(stat(SL_RS_MSG_BULK), 0u);
}

TEST_F(SockRedirTest, AFullSockhashFallsBackToTheStack) {
  load(SL_REDIR_ON, /*sockhash_entries=*/4);
  serve(echo_until_eof);
  std::vector<int> held;
  for (int i = 0; i < 5; ++i) {
    int fd = dial();
    held.push_back(dial());  // held open, so the sockhash fills up
    EXPECT_EQ(round_trip(fd, "x" + std::to_string(i)), "x" + std::to_string(i));
    close(fd);
  }
  for (int fd : held) close(fd);
  EXPECT_GT(stat(SL_RS_FULL), 0u) << "inserts beyond capacity were refused and counted";
  EXPECT_TRUE(wait_fill(0)) << "a full sockhash leaves nothing behind";
}

TEST_F(SockRedirTest, ManyShortConnectionsLeaveNothingBehind) {
  load(SL_REDIR_ON);
  serve(
      [](int fd) {
        char c;
        if (read(fd, &c, 1) == 1) write_all(fd, std::string(1, c));
      },
      /*concurrent=*/false);
  constexpr int kConnections = 100000;
  int ok = 0;
  for (int i = 0; i < kConnections; ++i) {
    int fd = dial();
    char c = 'a' + i % 26, back = 0;
    if (write_all(fd, std::string(1, c)) && read(fd, &back, 1) == 1 && back == c) ++ok;
    close(fd);
  }
  EXPECT_EQ(ok, kConnections);
  EXPECT_TRUE(wait_fill(0)) << *redir_->sockhash_fill() << " sockets left in the sockhash";
  EXPECT_EQ(stat(SL_RS_INSERTED), 2u * kConnections);
  EXPECT_EQ(stat(SL_RS_REMOVED), stat(SL_RS_INSERTED));
}

}  // namespace
