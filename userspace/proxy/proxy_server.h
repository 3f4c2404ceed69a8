// The L7 proxy of sluiced: thread-per-core workers, each with its own
// io_context and SO_REUSEPORT listener, reading the config through an atomic
// snapshot pointer. Connections arrive by the kernel's redirect of HTTP
// service ports (bpf/sock_lb.bpf.c); the original destination comes from
// the kernel's sl_orig_dst map.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <optional>
#include <string>

#include "cluster_registry.h"
#include "mesh_snapshot.h"
#include "proxy_limits.h"
#include "proxy_redirect.h"
#include "result.h"

namespace sluice::proxy {

struct ProxyOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 15001;  // 0: any (tests)
  unsigned workers = 2;
  uint32_t bypass_mark = 0;  // SO_MARK on upstream sockets, so the kernel does not redirect them
  // A client must send complete request headers within this, else 408.
  std::chrono::milliseconds header_timeout = kHeaderReadTimeout;
  std::function<config::SnapshotPtr()> snapshot;
  // The destination a client asked for, by its address (host byte order).
  std::function<std::optional<OriginalDestination>(uint32_t ip, uint16_t port)> original_destination;
  // Circuit breakers and outlier detectors, shared with the daemon (which
  // ticks them and mirrors ejections into the kernel). Created if null.
  std::shared_ptr<ClusterRegistry> clusters;
  // One JSON line per request; empty: access log off.
  std::function<void(const std::string&)> access_log;
  // Gateway ingress: listeners for the servers of Gateways whose selector
  // matches these labels (set_gateway_ports opens them on this address).
  std::string gateway_address = "0.0.0.0";
  std::map<std::string, std::string> gateway_labels{{"istio", "ingressgateway"}};
};

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
  void stop();  // idempotent

  struct Impl;

 private:
  explicit ProxyServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::proxy
