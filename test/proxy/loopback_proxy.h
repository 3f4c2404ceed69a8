// What the loopback tests of the proxy share: a snapshot built from YAML
// documents, and the options of a ProxyServer on 127.0.0.1 (any port, two
// workers) that reads it and keeps its access log lines.
#pragma once

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "proxy_options.h"
#include "snapshot_builder.h"

namespace sluice::proxy {

// The access log lines a proxy wrote, from any worker.
struct KeptLog {
  std::mutex mu;
  std::vector<std::string> lines;
};

// The snapshot of `yaml` (Kubernetes and Istio documents); a failure to
// build one fails the test and returns null.
inline config::SnapshotPtr snapshot_from_yaml(const std::string& yaml) {
  config::LoadResult loaded;
  config::load_yaml_text(yaml, "loopback.yaml", loaded);
  config::BuildResult built = config::build_snapshot(std::move(loaded), 1);
  EXPECT_TRUE(built.snapshot) << (built.diagnostics.empty() ? "" : built.diagnostics.front().to_string());
  return built.snapshot;
}

// A listener on `ip` (any port) that nobody accepts on: the kernel completes
// the handshakes and takes up to `rcvbuf` bytes per connection (0: its
// default), then the peer's writes stall, as to a blackholed backend.
struct Blackhole {
  explicit Blackhole(const char* ip, int rcvbuf = 0) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, ip, &a.sin_addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0) return;
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~Blackhole() { ::close(fd); }
  Blackhole(const Blackhole&) = delete;
  Blackhole& operator=(const Blackhole&) = delete;

  int fd = -1;
  uint16_t port = 0;  // 0: it could not listen
};

// `snapshot` must outlive the proxy; the caller sets original_destination.
inline ProxyOptions loopback_options(const config::SnapshotPtr& snapshot, KeptLog& log) {
  ProxyOptions o;
  o.address = "127.0.0.1";
  o.port = 0;
  o.workers = 2;
  o.snapshot = [&snapshot] { return snapshot; };
  o.access_log = [&log](const std::string& line) {
    std::lock_guard lock(log.mu);
    log.lines.push_back(line);
  };
  return o;
}

}  // namespace sluice::proxy
