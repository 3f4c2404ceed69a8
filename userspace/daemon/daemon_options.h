// What sluiced is told on its command line (userspace/cmd/sluiced.cpp parses
// it; docs/config.md describes each flag).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "consts.h"
#include "sock_redir_types.h"

namespace sluice::daemon {

struct DaemonOptions {
  // The config source: YAML files and directories, or the Kubernetes API
  // (docs/kubernetes.md), in cluster (`kube`) or through a kubeconfig.
  std::vector<std::string> config;
  bool kube = false;
  std::string kubeconfig;
  std::string kube_context;  // empty: the kubeconfig's current-context
  unsigned kube_sync_timeout_s = 60;  // at start, how long to wait for the first list of every type
  std::string cgroup;
  bool allow_root_cgroup = false;
  std::string pin_dir = SL_DEFAULT_PIN_DIR;
  std::string node_ip;
  std::string admin_address = "127.0.0.1";
  uint16_t admin_port = 15000;
  // The Prometheus endpoint (GET /metrics, also /stats/prometheus as on an
  // Istio sidecar's port 15020); port 0: only the admin API serves /metrics.
  std::string metrics_address = "0.0.0.0";
  uint16_t metrics_port = 15020;
  bool request_metrics = true;  // Istio's istio_request* metrics, recorded by the proxy
  // Tracing (docs/observability.md "Tracing"): the OTLP/HTTP receiver's URL
  // (empty: tracing off) and the share of requests sampled when the client
  // sent no decision.
  std::string otlp_endpoint;
  double trace_sample_percent = 1.0;
  uint16_t proxy_port = 15001;
  // Ports on node_ip that the kernel spreads redirected connections over,
  // all served by the proxy's one listener ("FIRST-LAST", or "off": every
  // redirect goes to proxy_port). docs/operations.md "Short-lived
  // connections" says why.
  std::string proxy_spread_ports = "15100-15163";
  unsigned debounce_ms = 100;
  unsigned workers = 2;
  unsigned header_timeout_ms = 10000;
  bool access_log = true;
  unsigned access_log_flush_ms = 100;
  bool cleanup = false;
  // On SIGTERM, how long requests under way may take to finish before the
  // rest is closed (docs/operations.md). The pod's
  // terminationGracePeriodSeconds must exceed it.
  unsigned drain_timeout_s = 20;
  // XDP load balancing of LoadBalancer/external IPs (docs/xdp-lb.md); off
  // unless an external interface is named.
  std::string external_iface;
  std::string node_name;
  bool xdp_generic = false;
  std::string xdp_redirect = "on";
  // Socket redirection between local sockets (docs/sockmap.md).
  std::string socket_redirect = "proxy";
  bool socket_redirect_given = false;  // on the command line (else the default)
  std::string pod_cidr;  // this node's pod network: what counts as local
  // The cluster's pod (and node) ranges: under REGISTRY_ONLY, connects to
  // them stay allowed (docs/egress.md).
  std::vector<std::string> cluster_cidrs;
  // The DNS server that resolves ServiceEntry hosts (resolution: DNS), "IP"
  // or "IP:port"; empty: the system's resolv.conf.
  std::string dns_server;
  // Where this node's pods' network namespaces are bound, and the prefix of
  // their names (empty: all): how the kernel's L4 authorization learns which
  // pod a connect comes from (docs/security.md).
  std::string pod_netns_dir = "/run/netns";
  std::string pod_netns_prefix;
  uint32_t redirect_bulk_bytes = SL_REDIR_DEFAULT_BULK_BYTES;
  // Gateway ingress (docs/gateway.md): the address its listeners bind and
  // the labels of this node's gateway workload, which Gateway selectors match.
  std::string gateway_address;  // empty: node_ip
  unsigned gateway_trusted_proxies = 0;  // Istio's numTrustedProxies (X-Forwarded-For)
  std::vector<std::string> gateway_labels{"istio=ingressgateway"};
};

// SO_MARK on the proxy's upstream sockets, so the kernel never redirects
// them back to the proxy.
inline constexpr uint32_t kProxyBypassMark = 0x5c1;

}  // namespace sluice::daemon
