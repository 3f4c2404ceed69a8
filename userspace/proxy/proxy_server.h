// The L7 proxy of sluiced: thread-per-core workers, each with its own
// io_context and SO_REUSEPORT listener, reading the config through an atomic
// snapshot pointer. Connections arrive by the kernel's redirect of HTTP
// service ports (bpf/sock_lb.bpf.c); the original destination comes from
// the kernel's sl_orig_dst map.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <map>
#include <set>
#include <vector>

#include "cluster_registry.h"
#include "proxy_options.h"
#include "result.h"

namespace sluice::proxy {

class ProxyServer {
 public:
  static Result<std::unique_ptr<ProxyServer>> start(ProxyOptions options);
  ~ProxyServer();
  ProxyServer(const ProxyServer&) = delete;
  ProxyServer& operator=(const ProxyServer&) = delete;

  uint16_t port() const;
  // Listens on exactly these gateway ports (opening new ones, closing the
  // rest), on every worker. A port that cannot be bound is reported and
  // left out; the others still change.
  Status set_gateway_ports(const std::set<uint16_t>& ports);
  std::set<uint16_t> gateway_ports() const;
  const std::shared_ptr<ClusterRegistry>& clusters() const;

  // The first worker's mesh listener: the kernel's sl_proxy_lsn holds it
  // while the proxy takes new connections (every worker's listener shares
  // the port through SO_REUSEPORT and dies with the process alike).
  int mesh_listener_fd() const;
  // Readiness: every worker accepts on the mesh listener; the gateway ports
  // every worker accepts on.
  bool mesh_accepting() const;
  std::set<uint16_t> gateway_ports_accepting() const;
  // Whether any worker still accepts on any listener (a drain is over only
  // once none does).
  bool accepting_any() const;

  // The drain (docs/operations.md): from now on every response carries
  // `Connection: close`, idle keep-alive connections close after
  // kDrainIdleClose, and after `accept_grace` the listeners close. Requests
  // in flight finish. Idempotent; stop() ends whatever is left.
  void begin_drain(std::chrono::milliseconds accept_grace = kDrainAcceptGrace);
  // The listening sockets of every worker by port (mesh and gateway), for a
  // hand-over to a successor (docs/operations.md "Upgrades"). The
  // descriptors stay the server's.
  std::map<uint16_t, std::vector<int>> listener_fds() const;
  // Downstream connections still open (mesh and gateway).
  std::size_t open_connections() const;

  void stop();  // idempotent

  struct Impl;

 private:
  explicit ProxyServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::proxy
