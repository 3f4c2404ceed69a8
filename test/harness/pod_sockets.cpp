#include "pod_sockets.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace sluice::test {

namespace {

sockaddr_in make_addr(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

sockaddr_in6 make_addr6(const std::string& ip, uint16_t port) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  inet_pton(AF_INET6, ip.c_str(), &a.sin6_addr);
  return a;
}

}  // namespace

std::string address_text(const sockaddr_storage& a) {
  char ip[INET6_ADDRSTRLEN] = "?";
  if (a.ss_family == AF_INET6) {
    const auto& a6 = reinterpret_cast<const sockaddr_in6&>(a);
    inet_ntop(AF_INET6, &a6.sin6_addr, ip, sizeof(ip));
    return "[" + std::string(ip) + "]:" + std::to_string(ntohs(a6.sin6_port));
  }
  const auto& a4 = reinterpret_cast<const sockaddr_in&>(a);
  inet_ntop(AF_INET, &a4.sin_addr, ip, sizeof(ip));
  return std::string(ip) + ":" + std::to_string(ntohs(a4.sin_port));
}

NamedServer::NamedServer(int fd, uint16_t port, std::string name)
    : fd_(fd), stop_fd_(eventfd(0, EFD_CLOEXEC)), name_(std::move(name)) {
  int type = 0;
  socklen_t len = sizeof(type);
  getsockopt(fd_, SOL_SOCKET, SO_TYPE, &type, &len);
  udp_ = type == SOCK_DGRAM;
  int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a = make_addr("0.0.0.0", port);
  if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      (!udp_ && listen(fd_, 512) != 0)) {
    throw std::runtime_error("server " + name_ + ": " + std::strerror(errno));
  }
  thread_ = std::thread([this] { udp_ ? run_udp() : run_tcp(); });
}

NamedServer::~NamedServer() {
  uint64_t one = 1;
  (void)!write(stop_fd_, &one, sizeof(one));
  thread_.join();
  close(fd_);
  close(stop_fd_);
}

void NamedServer::run_tcp() {
  // Holds every accepted connection open until the client closes it, so
  // tests can build up active-connection counts.
  std::vector<pollfd> fds = {{stop_fd_, POLLIN, 0}, {fd_, POLLIN, 0}};
  const std::string greeting = name_ + "\n";
  for (;;) {
    if (poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) return;
    if (fds[0].revents) break;
    if (fds[1].revents & POLLIN) {
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        ++accepted_;
        (void)!write(c, greeting.data(), greeting.size());
        fds.push_back({c, POLLIN, 0});
      }
    }
    for (size_t i = 2; i < fds.size();) {
      char buf[256];
      if (fds[i].revents && read(fds[i].fd, buf, sizeof(buf)) <= 0) {
        close(fds[i].fd);
        fds.erase(fds.begin() + static_cast<long>(i));
        continue;
      }
      fds[i++].revents = 0;
    }
  }
  for (size_t i = 2; i < fds.size(); ++i) close(fds[i].fd);
}

void NamedServer::run_udp() {
  pollfd fds[2] = {{stop_fd_, POLLIN, 0}, {fd_, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, 1000) < 0 && errno != EINTR) return;
    if (fds[0].revents) return;
    if (!(fds[1].revents & POLLIN)) continue;
    char buf[512];
    sockaddr_in from{};
    socklen_t len = sizeof(from);
    ssize_t n = recvfrom(fd_, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) continue;
    ++accepted_;
    std::string reply = name_ + ":" + std::string(buf, static_cast<size_t>(n));
    sendto(fd_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
  }
}

int listen_on(int fd, const std::string& ip, uint16_t port) {
  sockaddr_in a = make_addr(ip, port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(fd, 64) != 0) return -errno;
  return 0;
}

int accept_within(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) != 1) return -1;
  return accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
}

int connect_to(int fd, const std::string& ip, uint16_t port) {
  if (ip.find(':') != std::string::npos) {
    sockaddr_in6 a = make_addr6(ip, port);
    return connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 ? 0 : -errno;
  }
  sockaddr_in a = make_addr(ip, port);
  return connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 ? 0 : -errno;
}

std::string read_name(int fd, int timeout_ms) {
  std::string out;
  pollfd p{fd, POLLIN, 0};
  while (out.find('\n') == std::string::npos) {
    if (poll(&p, 1, timeout_ms) <= 0) return "";
    char buf[64];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) return "";
    out.append(buf, static_cast<size_t>(n));
  }
  return out.substr(0, out.find('\n'));
}

std::string ask_name(int fd, const std::string& ip, uint16_t port, int* keep) {
  const int rc = connect_to(fd, ip, port);
  std::string name = rc == 0 ? read_name(fd) : "error:" + std::to_string(-rc);
  if (name.empty()) name = "error:read";
  if (keep) {
    *keep = fd;
  } else {
    close(fd);
  }
  return name;
}

std::string peer_of(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof(a);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return "error";
  return address_text(a);
}

}  // namespace sluice::test
