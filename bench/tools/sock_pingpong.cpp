// sluice-bench-sock: the socket-level benchmark of bench/sockmap.sh.
//   serve PORT                  TCP server: echoes each byte back (ping-pong),
//                               and drains connections that send bulk data
//   rr IP PORT COUNT            one connection, COUNT 1-byte round trips;
//                               prints "p50_us=… p99_us=… n=…"
//   bulk IP PORT MIB            one connection, MIB MiB in 256 KiB writes, then
//                               waits for the server to close; prints "gbyte_s=…" (GB/s)
//   httprr IP PORT COUNT HOST   keep-alive GET / with Host HOST, one at a
//                               time; prints "p50_us=… p99_us=… n=…"
// Bounded by COUNT/MIB; every blocking call has a 10 s timeout.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

int fail(const char* what) {
  std::fprintf(stderr, "sluice-bench-sock: %s: %s\n", what, std::strerror(errno));
  return 1;
}

void set_timeouts(int fd) {
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int dial(const char* ip, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (fd < 0 || inet_pton(AF_INET, ip, &a.sin_addr) != 1 || connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    return -1;
  }
  set_timeouts(fd);
  return fd;
}

// The first byte decides: 'p' ping-pong (echo every byte), 'b' bulk (drain).
void serve_one(int fd) {
  set_timeouts(fd);
  std::vector<char> buf(256 * 1024);
  ssize_t n = read(fd, buf.data(), buf.size());
  if (n <= 0) return;
  if (buf[0] == 'p') {
    for (;;) {
      if (write(fd, buf.data(), static_cast<size_t>(n)) != n) return;
      n = read(fd, buf.data(), buf.size());
      if (n <= 0) return;
    }
  }
  while ((n = read(fd, buf.data(), buf.size())) > 0) {
  }
}

int serve(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 128) != 0) return fail("listen");
  for (;;) {
    int c = accept(fd, nullptr, nullptr);
    if (c < 0) continue;
    std::thread([c] {
      serve_one(c);
      close(c);
    }).detach();
  }
}

void print_latency(std::vector<double>& us) {
  std::sort(us.begin(), us.end());
  auto q = [&](double p) { return us[std::min(us.size() - 1, static_cast<size_t>(p * us.size()))]; };
  std::printf("p50_us=%.2f p99_us=%.2f n=%zu\n", q(0.50), q(0.99), us.size());
}

int rr(const char* ip, int port, long count) {
  int fd = dial(ip, port);
  if (fd < 0) return fail("connect");
  char c = 'p';
  std::vector<double> us;
  us.reserve(static_cast<size_t>(count));
  for (long i = 0; i < count + 1000; ++i) {  // the first 1000 warm up
    const auto t0 = Clock::now();
    if (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1) return fail("round trip");
    if (i >= 1000) us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  close(fd);
  print_latency(us);
  return 0;
}

int bulk(const char* ip, int port, long mib) {
  int fd = dial(ip, port);
  if (fd < 0) return fail("connect");
  std::vector<char> buf(256 * 1024, 'b');
  const auto t0 = Clock::now();
  for (long sent = 0; sent < mib * 1024 * 1024;) {
    ssize_t n = write(fd, buf.data(), buf.size());
    if (n <= 0) return fail("write");
    sent += n;
  }
  shutdown(fd, SHUT_WR);
  char c;
  while (read(fd, &c, 1) > 0) {
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  close(fd);
  std::printf("gbyte_s=%.3f\n", static_cast<double>(mib) * 1024 * 1024 / s / 1e9);
  return 0;
}

int httprr(const char* ip, int port, long count, const char* host) {
  int fd = dial(ip, port);
  if (fd < 0) return fail("connect");
  const std::string req = std::string("GET / HTTP/1.1\r\nHost: ") + host + "\r\n\r\n";
  std::vector<double> us;
  std::string in;
  char buf[16384];
  for (long i = 0; i < count + 200; ++i) {
    const auto t0 = Clock::now();
    if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) return fail("write");
    // One response: header, then Content-Length bytes.
    in.clear();
    size_t need = std::string::npos;
    while (need == std::string::npos || in.size() < need) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) return fail("read");
      in.append(buf, static_cast<size_t>(n));
      const size_t end = in.find("\r\n\r\n");
      if (need == std::string::npos && end != std::string::npos) {
        const size_t cl = in.find("ontent-Length: ");
        need = end + 4 + (cl != std::string::npos && cl < end ? std::strtoul(in.c_str() + cl + 15, nullptr, 10) : 0);
      }
    }
    if (i >= 200) us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  close(fd);
  print_latency(us);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "serve" && argc == 3) return serve(std::atoi(argv[2]));
  if (mode == "rr" && argc == 5) return rr(argv[2], std::atoi(argv[3]), std::atol(argv[4]));
  if (mode == "bulk" && argc == 5) return bulk(argv[2], std::atoi(argv[3]), std::atol(argv[4]));
  if (mode == "httprr" && argc == 6) return httprr(argv[2], std::atoi(argv[3]), std::atol(argv[4]), argv[5]);
  std::fprintf(stderr,
               "usage: sluice-bench-sock serve PORT | rr IP PORT COUNT | bulk IP PORT MIB | httprr IP PORT COUNT HOST\n");
  return 2;
}
