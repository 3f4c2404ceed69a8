// sluiced: the node daemon's entry point. Parses the command line into
// DaemonOptions and runs the daemon (userspace/daemon/node_daemon.h) until
// SIGTERM or SIGINT, which start its drain.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "daemon_options.h"
#include "node_daemon.h"

int main(int argc, char** argv) {
  sluice::daemon::DaemonOptions f;
  std::string log_level = "info";
  CLI::App app{"sluiced: sluice's node daemon"};
  auto* config_opt =
      app.add_option("--config", f.config, "config directory or file of Istio/Kubernetes YAML (repeatable; development and demos)");
  auto* kube_opt = app.add_flag("--kube", f.kube,
                                "read the config from the Kubernetes API, in cluster (service-account token and CA, "
                                "KUBERNETES_SERVICE_HOST/PORT)");
  auto* kubeconfig_opt = app.add_option("--kubeconfig", f.kubeconfig, "read the config from the Kubernetes API of this kubeconfig");
  app.add_option("--kube-context", f.kube_context, "the kubeconfig context to use (default: its current-context)");
  app.add_option("--kube-sync-timeout", f.kube_sync_timeout_s,
                 "seconds to wait at start for the first list of every resource type before going on")
      ->capture_default_str();
  config_opt->excludes(kube_opt)->excludes(kubeconfig_opt);
  kube_opt->excludes(kubeconfig_opt);
  app.add_option("--cgroup", f.cgroup,
                 "cgroup v2 directory to attach to; no default. On a node, the cgroup v2 root (with --allow-root-cgroup)")
      ->required();
  app.add_flag("--allow-root-cgroup", f.allow_root_cgroup, "permit attaching to a cgroup v2 mount root (a whole node)");
  app.add_option("--pin-dir", f.pin_dir, "bpffs directory for pinned maps and links")->capture_default_str();
  app.add_option("--node-ip", f.node_ip, "this node's IP address; the L7 proxy listens there (none: L4 only)");
  app.add_option("--admin-address", f.admin_address, "admin API address")->capture_default_str();
  app.add_option("--admin-port", f.admin_port, "admin API port (0: any)")->capture_default_str();
  app.add_option("--metrics-address", f.metrics_address, "Prometheus endpoint address (/metrics)")
      ->capture_default_str();
  app.add_option("--metrics-port", f.metrics_port,
                 "Prometheus endpoint port (0: none; the admin API serves /metrics as well)")
      ->capture_default_str();
  app.add_option("--proxy-port", f.proxy_port, "L7 proxy listener port (0: no proxy)")->capture_default_str();
  app.add_option("--proxy-spread-ports", f.proxy_spread_ports,
                 "ports on --node-ip over which redirected connections are spread, so that a pod's TIME_WAIT entries "
                 "do not use up its ports toward one proxy port; FIRST-LAST, or off. Nothing else on the node may "
                 "listen on them")
      ->capture_default_str();
  app.add_option("--workers", f.workers, "L7 proxy worker threads (one per core)")->capture_default_str();
  app.add_flag("!--no-access-log", f.access_log, "turn the JSON access log on stdout off");
  app.add_flag("!--no-request-metrics", f.request_metrics,
               "do not record Istio's request metrics (istio_request*); /metrics keeps sluice's own");
  app.add_option("--otlp-endpoint", f.otlp_endpoint,
                 "send trace spans over OTLP/HTTP (protobuf) to this URL, e.g. http://127.0.0.1:4318/v1/traces "
                 "(none: tracing off; trace headers pass through untouched)");
  app.add_option("--trace-sample-percent", f.trace_sample_percent,
                 "percent of requests traced when the client sent no sampling decision (Istio's default: 1)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100.0));
  app.add_option("--access-log-flush-ms", f.access_log_flush_ms,
                 "access log lines are written every this many ms, or at once when 64 KiB are pending (0: each at once)")
      ->capture_default_str()
      ->check(CLI::Range(0u, 10000u));
  app.add_option("--request-header-timeout-ms", f.header_timeout_ms,
                 "a client must send complete request headers within this, else 408")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
  app.add_option("--debounce-ms", f.debounce_ms, "quiet time after a config change before reloading")
      ->capture_default_str();
  app.add_option("--drain-timeout", f.drain_timeout_s,
                 "seconds: on SIGTERM, requests under way may finish this long before the rest is closed; "
                 "terminationGracePeriodSeconds must exceed it")
      ->capture_default_str()
      ->check(CLI::Range(0u, 3600u));
  app.add_flag("--cleanup", f.cleanup, "on exit, detach and remove all pinned state (stops the data path)");
  app.add_option("--external-iface", f.external_iface,
                 "node's external interface: XDP load balancing of LoadBalancer and external IPs (none: off)");
  app.add_option("--node-name", f.node_name,
                 "this node's Kubernetes name (default: $NODE_NAME, which the DaemonSet sets from spec.nodeName): "
                 "its Pods are this node's, and externalTrafficPolicy: Local keeps to them");
  app.add_option("--socket-redirect", f.socket_redirect,
                 "sockhash fast path between local sockets: proxy (only bytes the proxy receives), off, on, "
                 "or auto (bulk senders stay on the stack)")
      ->check(CLI::IsMember({"proxy", "off", "on", "auto"}))
      ->capture_default_str();
  app.add_option("--pod-cidr", f.pod_cidr, "this node's pod network (e.g. 10.244.1.0/24): connections between "
                                           "it and --node-ip are local");
  app.add_option("--cluster-cidr", f.cluster_cidrs,
                 "the cluster's pod and node ranges (repeatable): under REGISTRY_ONLY, connects to them stay allowed "
                 "(services, --pod-cidr, the node and ServiceEntries always are)");
  app.add_option("--dns-server", f.dns_server,
                 "IP[:port] of the DNS server that resolves ServiceEntry hosts with resolution DNS (default: the "
                 "system's resolv.conf)");
  app.add_option("--pod-netns-dir", f.pod_netns_dir,
                 "where the container runtime binds pods' network namespaces: L4 authorization learns the calling "
                 "pod of a connect from them")
      ->capture_default_str();
  app.add_option("--pod-netns-prefix", f.pod_netns_prefix,
                 "only namespaces there whose name starts with this (e.g. cni-)");
  app.add_option("--gateway-address", f.gateway_address,
                 "address of the Gateway listeners (default: --node-ip; on a node, its external address)");
  app.add_option("--gateway-trusted-proxies", f.gateway_trusted_proxies,
                 "load balancers in front of the Gateway whose X-Forwarded-For entries are trusted (Istio's "
                 "numTrustedProxies): the client is that many entries from the right, for remoteIpBlocks")
      ->capture_default_str();
  app.add_option("--gateway-label", f.gateway_labels,
                 "key=value label of this node's gateway workload, matched by Gateway selectors (repeatable)")
      ->capture_default_str();
  app.add_option("--redirect-bulk-bytes", f.redirect_bulk_bytes,
                 "auto: a socket that sends a message this large goes back to the stack for good (0: never); "
                 "set it where bench/sockmap.sh shows bulk transfers slower redirected")
      ->capture_default_str();
  app.add_flag("--xdp-generic", f.xdp_generic, "attach XDP in generic (skb) mode even if the driver has native XDP");
  app.add_option("--xdp-redirect", f.xdp_redirect,
                 "XDP forward path: DNATed packets to a device that takes XDP frames leave by XDP_REDIRECT "
                 "(skipping the node's netfilter and egress qdisc), the rest through the stack; off: always the stack")
      ->check(CLI::IsMember({"off", "on"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (const char* env = std::getenv("NODE_NAME"); f.node_name.empty() && env) f.node_name = env;
  if (f.config.empty() && !f.kube && f.kubeconfig.empty()) {
    std::fprintf(stderr, "sluiced: one of --config, --kube or --kubeconfig is required\n");
    return 2;
  }
  f.socket_redirect_given = app.count("--socket-redirect") > 0;

  spdlog::set_level(spdlog::level::from_str(log_level));
  // The access log writes to fd 1 itself (in batches, every
  // --access-log-flush-ms); anything printed through stdio must reach the
  // descriptor a line at a time, so the two never interleave mid-line.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::signal(SIGPIPE, SIG_IGN);
  return sluice::daemon::run_node_daemon(f);
}
