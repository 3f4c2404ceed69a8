// Small real-socket servers and clients for privileged tests: a TCP server
// that greets each connection with its name and holds it open, a UDP server
// that answers each datagram with its name, and client helpers.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <thread>

namespace sluice::test {

// Serves on an already-created socket fd (TCP or UDP, bound by start()).
class NamedServer {
 public:
  // fd: a fresh socket made in the pod's netns. Binds 0.0.0.0:port.
  NamedServer(int fd, uint16_t port, std::string name);
  ~NamedServer();
  NamedServer(const NamedServer&) = delete;
  NamedServer& operator=(const NamedServer&) = delete;

  int accepted() const { return accepted_.load(); }

 private:
  void run_tcp();
  void run_udp();

  int fd_;
  int stop_fd_;
  std::string name_;
  bool udp_;
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// bind() of a fresh TCP socket fd to ip:port, then listen(). Returns 0 or -errno.
int listen_on(int fd, const std::string& ip, uint16_t port);

// The next connection on listening socket fd, or -1 after timeout_ms.
int accept_within(int fd, int timeout_ms = 2000);

// connect() of a fresh socket fd to ip:port (IPv6 when ip has a colon, e.g.
// a v4-mapped "::ffff:10.96.0.10"). Returns 0 or -errno.
int connect_to(int fd, const std::string& ip, uint16_t port);

// Reads the server's greeting line ("p2"), or "" on error/timeout.
std::string read_name(int fd, int timeout_ms = 2000);

// Connects fd (a fresh TCP socket) to ip:port and reads the NamedServer's
// greeting: the backend's name, or "error:<errno>" / "error:read". Closes fd
// unless keep is given, which then receives it.
std::string ask_name(int fd, const std::string& ip, uint16_t port, int* keep = nullptr);

// How many of n calls of connect() (returning a backend's name) went where.
template <class Connect>
std::map<std::string, int> tally(int n, Connect connect) {
  std::map<std::string, int> counts;
  for (int i = 0; i < n; ++i) ++counts[connect()];
  return counts;
}

// A socket address as "ip:port", or "[ip6]:port".
std::string address_text(const sockaddr_storage& a);

// Peer address of fd as address_text() writes it.
std::string peer_of(int fd);

}  // namespace sluice::test
