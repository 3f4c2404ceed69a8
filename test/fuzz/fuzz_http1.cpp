// The HTTP/1 request path of the real L7 proxy. One ProxyServer (one worker)
// runs for the whole process, with a fixed mesh config whose service routes
// to an in-process loopback backend answering 200. Each input is the bytes of
// one fresh client connection, which the proxy takes as redirected mesh
// traffic to the service's VIP:port: parsing, the filter chain (faults,
// authorization), routing, the upstream attempt with retries and mirroring,
// and the response back. The client half-closes after the input and reads
// until the proxy closes, or a bounded time.
//
// SLUICE_FUZZ_STRICT=1 turns a connection still open at that bound into a
// crash (a hang to look into); by default it is only counted.
// SLUICE_FUZZ_DEBUG=1 prints the status line of every response.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "proxy_server.h"
#include "resource_loader.h"
#include "snapshot_builder.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kVip = (10u << 24) | (96u << 16) | (77u << 8) | 7u;  // 10.96.77.7
constexpr uint16_t kVipPort = 80;
constexpr size_t kMaxInputBytes = 64 * 1024;
// How long one input's connection may stay open; the proxy's own header
// timeout is shorter, so a well-behaved proxy always closes before it.
constexpr auto kConnectionBound = std::chrono::seconds(3);
constexpr auto kHeaderTimeout = std::chrono::milliseconds(500);

// A mesh config routing VIP:80 to the backend: a plain route with retries
// and header edits, a prefix route that mirrors, an abort fault on a header,
// an authorization DENY on a path, and consistent hashing on a header.
std::string mesh_config(uint16_t backend_port) {
  std::string yaml = R"(apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: 10.96.77.7
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: BACKEND_PORT}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: default
  labels: {app: web, version: v1}
spec:
  containers: [{name: web, ports: [{containerPort: BACKEND_PORT}]}]
status: {phase: Running, podIP: 127.0.0.1}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: default}
spec:
  host: web
  trafficPolicy:
    loadBalancer:
      consistentHash: {httpHeaderName: x-user}
    connectionPool:
      http: {http1MaxPendingRequests: 64, maxRequestsPerConnection: 8}
  subsets:
  - {name: v1, labels: {version: v1}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web]
  http:
  - match:
    - headers:
        x-fault: {exact: abort}
    fault:
      abort:
        httpStatus: 503
        percentage: {value: 100}
    route:
    - destination: {host: web}
  - match:
    - uri: {prefix: /mirror}
    mirror: {host: web}
    mirrorPercentage: {value: 100}
    route:
    - destination: {host: web, subset: v1}
  - match:
    - uri: {regex: "/re/[a-z]+"}
      method: {exact: POST}
    rewrite: {uri: /rewritten}
    route:
    - destination: {host: web}
  - route:
    - destination: {host: web}
    retries: {attempts: 2, perTryTimeout: 1s, retryOn: "5xx,connect-failure,reset"}
    timeout: 2s
    headers:
      request:
        set: {x-fuzz: "1"}
        remove: [x-remove-me]
      response:
        add: {x-served-by: sluice}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-deny, namespace: default}
spec:
  selector:
    matchLabels: {app: web}
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/deny*"]
)";
  const std::string port = std::to_string(backend_port);
  for (size_t at; (at = yaml.find("BACKEND_PORT")) != std::string::npos;) yaml.replace(at, 12, port);
  return yaml;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "fuzz_http1: %s\n", what.c_str());
  std::abort();
}

int listen_loopback(uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 256) != 0) die("bind/listen");
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

// Waits for fd to be ready for `events` until `deadline`; false on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

// The backend: reads a request head, answers 200 and closes its side, then
// drains whatever body follows so the proxy never writes into a reset.
// The head is gathered on the stack, not in a std::string: this thread runs
// beside the fuzzed input, and libFuzzer's in-process leak check, which
// stops every thread at once, reported a string caught mid-reallocation
// here as a leak.
void serve_backend_connection(int fd) {
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  static constexpr size_t kHeadBytes = 256 * 1024;
  char in[kHeadBytes];
  size_t have = 0;
  char buf[16384];
  while (std::string_view(in, have).find("\r\n\r\n") == std::string_view::npos && have < kHeadBytes) {
    if (!wait_for(fd, POLLIN, deadline)) break;
    const ssize_t n = ::recv(fd, in + have, kHeadBytes - have, 0);
    if (n <= 0) break;
    have += static_cast<size_t>(n);
  }
  static constexpr char kResponse[] =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
  ::send(fd, kResponse, sizeof kResponse - 1, MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  while (wait_for(fd, POLLIN, deadline)) {
    if (::recv(fd, buf, sizeof buf, 0) <= 0) break;
  }
  ::close(fd);
}

struct Harness {
  uint16_t backend_port = 0;
  int backend_fd = -1;
  std::unique_ptr<sluice::proxy::ProxyServer> proxy;
  std::atomic<uint64_t> open_at_bound{0};

  Harness() {
    backend_fd = listen_loopback(backend_port);
    std::thread([fd = backend_fd] {
      for (;;) {
        const int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) {
          if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE) continue;
          return;
        }
        std::thread(serve_backend_connection, c).detach();
      }
    }).detach();

    sluice::config::LoadResult loaded;
    sluice::config::load_yaml_text(mesh_config(backend_port), "fuzz_http1.yaml", loaded);
    sluice::config::BuildResult built = sluice::config::build_snapshot(std::move(loaded), 1);
    if (!built.snapshot) {
      std::string why;
      for (const auto& d : built.diagnostics) why += d.to_string() + "\n";
      die("the fixed mesh config does not build:\n" + why);
    }
    sluice::config::SnapshotPtr snap = std::move(built.snapshot);

    sluice::proxy::ProxyOptions o;
    o.address = "127.0.0.1";
    o.port = 0;
    o.workers = 1;
    o.header_timeout = kHeaderTimeout;
    o.snapshot = [snap] { return snap; };
    o.original_destination = [](uint32_t, uint16_t, uint16_t) {
      return std::optional<sluice::OriginalDestination>(sluice::OriginalDestination{kVip, kVipPort, 6, 0});
    };
    auto started = sluice::proxy::ProxyServer::start(std::move(o));
    if (!started) die("ProxyServer::start: " + started.error().to_string());
    proxy = std::move(*started);
  }
};

Harness* harness = nullptr;
bool strict = false;
bool debug = false;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* s = std::getenv("SLUICE_FUZZ_STRICT");
  strict = s && std::strcmp(s, "1") == 0;
  const char* d = std::getenv("SLUICE_FUZZ_DEBUG");
  debug = d && std::strcmp(d, "1") == 0;
  // Hostile input makes the proxy log on every run; sanitizers still report.
  spdlog::set_level(spdlog::level::off);
  harness = new Harness();  // lives as long as the process, like the proxy in sluiced
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInputBytes) return -1;
  const auto deadline = Clock::now() + kConnectionBound;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) die("client socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(harness->proxy->port());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) die("connect");
  if (!wait_for(fd, POLLOUT, deadline)) die("connect timed out");

  // Write the whole input, unless the proxy closes first (it may answer a
  // malformed head at once); then half-close: there is nothing more.
  size_t sent = 0;
  while (sent < size) {
    if (!wait_for(fd, POLLOUT, deadline)) break;
    const ssize_t n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
      break;
    }
  }
  ::shutdown(fd, SHUT_WR);

  char buf[16384];
  bool closed = false;
  std::string head;
  while (wait_for(fd, POLLIN, deadline)) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      closed = true;
      break;
    }
    if (debug && n > 0 && head.size() < 256) head.append(buf, static_cast<size_t>(n));
  }
  if (debug) std::fprintf(stderr, "fuzz_http1: %zu bytes in -> %s\n", size, head.substr(0, head.find('\r')).c_str());
  ::close(fd);
  if (!closed) {
    const uint64_t count = ++harness->open_at_bound;
    if (strict) die("the proxy kept a connection open past the bound (SLUICE_FUZZ_STRICT=1)");
    if ((count & (count - 1)) == 0) {
      std::fprintf(stderr, "fuzz_http1: %llu connection(s) still open after %llds\n",
                   static_cast<unsigned long long>(count),
                   static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(kConnectionBound).count()));
    }
  }
  return 0;
}
