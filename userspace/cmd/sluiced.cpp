// sluiced: the node daemon. Loads and attaches the kernel programs (adopting
// pinned state from an earlier run), keeps the kernel tables in step with the
// Istio/Kubernetes YAML in the config dir, and serves the admin API.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <unistd.h>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>

#include "admin_server.h"
#include "admin_views.h"
#include "buffered_line_writer.h"
#include "config_sync.h"
#include "config_watcher.h"
#include "kernel_datapath_maps.h"
#include "proxy_redirect.h"
#include "proxy_server.h"
#include "service_text.h"
#include "service_writer.h"
#include "sock_lb_loader.h"
#include "sock_redir_loader.h"
#include "gateway_servers.h"
#include "xdp_daemon.h"

namespace {

using namespace sluice;

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int) { g_stop.store(true); }

struct Flags {
  std::vector<std::string> config;
  std::string cgroup;
  bool allow_root_cgroup = false;
  std::string pin_dir = SL_DEFAULT_PIN_DIR;
  std::string node_ip;
  std::string admin_address = "127.0.0.1";
  uint16_t admin_port = 15000;
  uint16_t proxy_port = 15001;
  std::string log_level = "info";
  unsigned debounce_ms = 100;
  unsigned workers = 2;
  unsigned header_timeout_ms = 10000;
  bool access_log = true;
  unsigned access_log_flush_ms = 100;
  bool cleanup = false;
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
  uint32_t redirect_bulk_bytes = SL_REDIR_DEFAULT_BULK_BYTES;
  // Gateway ingress (docs/gateway.md): the address its listeners bind and
  // the labels of this node's gateway workload, which Gateway selectors match.
  std::string gateway_address;  // empty: --node-ip
  std::vector<std::string> gateway_labels{"istio=ingressgateway"};
};


// SO_MARK on the proxy's upstream sockets, so the kernel never redirects
// them back to the proxy.
constexpr uint32_t kProxyBypassMark = 0x5c1;
// How often the XDP forward path re-reads which devices take XDP frames.
constexpr std::chrono::seconds kXdpTxRefresh{1};

// The reload loop: the watcher only raises a flag; reloads run here, one at a
// time, so a burst of file events costs one reload.
class ReloadQueue {
 public:
  void request() {
    std::lock_guard lock(mu_);
    pending_ = true;
    cv_.notify_one();
  }
  // True if a reload is due; returns at least every `tick` to check for stop.
  bool wait(std::chrono::milliseconds tick) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, tick, [&] { return pending_; });
    return std::exchange(pending_, false);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;
};

// Outlier detection runs in the proxy; its ejections are also marked in the
// kernel's backend map, so L4 clients of the same service avoid the endpoint
// too, and unmarked when the ejection ends.
void mirror_ejections(proxy::ClusterRegistry& clusters, DatapathMaps& maps) {
  clusters.tick(proxy::OutlierDetector::Clock::now());
  ServiceWriter writer(maps);
  for (const auto& [cluster, e] : clusters.drain_events()) {
    const auto ip = static_cast<uint32_t>(e.endpoint_id >> 16);
    const auto port = static_cast<uint16_t>(e.endpoint_id & 0xffff);
    spdlog::info("outlier: {} {}:{} in {} ({}, ejection #{}, {} ms)", e.ejected ? "ejected" : "restored",
                 format_ip(ip), port, cluster->key, proxy::to_string(e.reason), e.ejection_count, e.duration.count());
    if (!cluster->vip) continue;
    Status s = writer.set_ejected(service_key(cluster->vip, cluster->service_port, 6), ip, port, e.ejected);
    if (!s) {
      spdlog::warn("outlier: kernel mark for {}:{} in {}:{}: {}", format_ip(ip), port, format_ip(cluster->vip),
                   cluster->service_port, s.error().to_string());
    }
  }
}

int run(const Flags& f) {
  // The L7 proxy runs when the node's address is known: HTTP service ports
  // are then redirected to it (while it beats its heartbeat).
  uint32_t node_ip = 0;
  uint16_t unused_port = 0;
  const bool l7 = !f.node_ip.empty() && f.proxy_port != 0;
  if (l7 && !parse_ip_port(f.node_ip + ":1", node_ip, unused_port)) {
    spdlog::critical("--node-ip {} is not an IPv4 address", f.node_ip);
    return 1;
  }
  SockLbOptions lb_options{.pin_dir = f.pin_dir};
  if (l7) {
    lb_options.proxy_ip = node_ip;
    lb_options.proxy_port = f.proxy_port;
    lb_options.bypass_mark = kProxyBypassMark;
  }
  auto lb = SockLb::load(lb_options);
  if (!lb) {
    spdlog::critical("{}", lb.error().to_string());
    return 1;
  }
  if (Status s = (*lb)->attach({f.cgroup, f.allow_root_cgroup}); !s) {
    spdlog::critical("{}", s.error().to_string());
    return 1;
  }
  spdlog::info("kernel programs attached to {} (pin dir {}, maps {}, {} links adopted)", f.cgroup, f.pin_dir,
               (*lb)->reused_maps() ? "reused" : "created", (*lb)->adopted_links());

  std::unique_ptr<SockRedir> redir;
  // Proxy mode only has something to do when the proxy runs.
  const std::string redirect_mode = f.socket_redirect == "proxy" && !l7 ? "off" : f.socket_redirect;
  if (redirect_mode == "off") {
    // A restart may turn it off: what an earlier run pinned must go.
    if (Status s = SockRedir::remove_pins(f.pin_dir); !s) {
      spdlog::critical("turning socket redirection off: {}", s.error().to_string());
      return 1;
    }
  } else {
    SockRedirOptions ro{.pin_dir = f.pin_dir,
                        .mode = redirect_mode == "on"      ? SL_REDIR_ON
                                : redirect_mode == "proxy" ? SL_REDIR_PROXY
                                                           : SL_REDIR_AUTO,
                        .node_ip = node_ip,
                        .proxy_mark = l7 ? kProxyBypassMark : 0,
                        .bulk_bytes = f.redirect_bulk_bytes};
    // Proxy mode works without the pod network (a pod's bytes to the proxy
    // are redirected, the proxy's upstream sockets stay on the stack); the
    // other modes redirect between pods and need it.
    const bool cidr_optional = redirect_mode == "proxy" && f.pod_cidr.empty();
    if (!cidr_optional && !parse_ipv4_cidr(f.pod_cidr, ro.local_net, ro.local_prefix_len)) {
      spdlog::critical("--socket-redirect {} needs --pod-cidr, this node's pod network (got '{}')", redirect_mode,
                       f.pod_cidr);
      return 1;
    }
    auto loaded = SockRedir::load(ro);
    Status attached = loaded ? (*loaded)->attach({f.cgroup, f.allow_root_cgroup}) : Status(loaded.error());
    if (!attached && f.socket_redirect_given) {
      spdlog::critical("{}", attached.error().to_string());
      return 1;
    }
    if (!attached) {
      // The default mode is an optimisation: a kernel without what it
      // needs costs the fast path, not the node.
      spdlog::warn("socket redirection ({} by default) is unavailable, continuing without it: {}", redirect_mode,
                   attached.error().to_string());
      if (loaded) (void)(*loaded)->detach();
      (void)SockRedir::remove_pins(f.pin_dir);
    } else {
      redir = std::move(*loaded);
      spdlog::info("socket redirection {} for local connections in {}", redirect_mode,
                   f.pod_cidr.empty() ? "(no pod network given)" : f.pod_cidr);
    }
  }

  KernelDatapathMaps maps((*lb)->maps());
  config::ConfigSync sync(f.config, maps);
  sync.adopt_kernel_state();
  sync.reload();
  std::unique_ptr<XdpDaemon> xdp;
  if (!f.external_iface.empty()) {
    XdpDaemonOptions xo{.iface = f.external_iface, .pin_dir = f.pin_dir, .node = {f.node_name, {}},
                        .force_generic = f.xdp_generic};
    xo.redirect = f.xdp_redirect == "on";
    if (node_ip) xo.node.node_ips.insert(node_ip);
    auto started = XdpDaemon::start(xo);
    if (!started) {
      spdlog::critical("XDP on {}: {}", f.external_iface, started.error().to_string());
      return 1;
    }
    xdp = std::move(*started);
    spdlog::info("XDP load balancer on {} ({} mode), reverse NAT on its TC egress, XDP forward {} ({} device(s) "
                 "take XDP frames)",
                 f.external_iface, xdp_mode_name(xdp->mode()), f.xdp_redirect, xdp->tx_devices().size());
  }
  auto sync_xdp = [&] {
    if (!xdp || !sync.current()) return;
    if (Status s = xdp->sync(*sync.current()); !s) spdlog::warn("XDP sync: {}", s.error().to_string());
  };
  sync_xdp();
  std::atomic<bool> ready{true};

  ReloadQueue queue;
  auto watcher = config::ConfigWatcher::start(f.config, std::chrono::milliseconds(f.debounce_ms),
                                              [&queue] { queue.request(); });
  if (!watcher) {
    spdlog::critical("watch {}: {}", f.config.front(), watcher.error().to_string());
    return 1;
  }

  const PerCpuArrayHandle<uint64_t> stats = (*lb)->maps().stats;
  std::map<std::string, AdminHandler> routes = {
      {"/ready",
       [&](const std::string&) {
         return ready ? AdminResponse{200, "text/plain", "ready\n"} : AdminResponse{503, "text/plain", "starting\n"};
       }},
      {"/config", [&](const std::string&) { return AdminResponse{200, "application/json", config_status_json(sync.status())}; }},
      {"/maps", [&](const std::string&) { return AdminResponse{200, "application/json", kernel_maps_json(maps, stats)}; }},
  };
  // The proxy's clusters (circuit breakers, outlier detection) are created
  // here so the admin API can show them next to the kernel's counters.
  if (redir) {
    routes["/redirect"] = [&redir](const std::string&) {
      return AdminResponse{200, "application/json", socket_redirect_json(*redir)};
    };
  }
  if (xdp) routes["/xdp"] = [&xdp](const std::string&) { return AdminResponse{200, "application/json", xdp_json(*xdp)}; };
  auto clusters = std::make_shared<proxy::ClusterRegistry>();
  routes["/clusters"] = [clusters](const std::string&) {
    return AdminResponse{200, "application/json", clusters->to_json()};
  };
  auto admin = AdminServer::start(f.admin_address, f.admin_port, std::move(routes));
  if (!admin) {
    spdlog::critical("admin API: {}", admin.error().to_string());
    return 1;
  }
  spdlog::info("admin API on {}:{}", f.admin_address, (*admin)->port());

  // Declared first, so it outlives the proxy that writes to it.
  std::shared_ptr<telemetry::BufferedLineWriter> access_log;
  std::unique_ptr<proxy::ProxyServer> proxy;
  std::map<std::string, std::string> gateway_labels;
  if (l7) {
    const SockLbMaps kernel = (*lb)->maps();
    proxy::ProxyOptions po;
    po.address = f.node_ip;
    po.port = f.proxy_port;
    po.workers = f.workers;
    po.bypass_mark = kProxyBypassMark;
    po.clusters = clusters;
    po.header_timeout = std::chrono::milliseconds(f.header_timeout_ms);
    po.snapshot = [&sync] { return sync.current(); };
    po.original_destination = [kernel](uint32_t ip, uint16_t port) {
      return original_destination(kernel.orig_dst, ip, port);
    };
    if (f.access_log) {
      access_log = std::make_shared<telemetry::BufferedLineWriter>(STDOUT_FILENO,
                                                               std::chrono::milliseconds(f.access_log_flush_ms));
      po.access_log = [log = access_log](const std::string& line) { log->write_line(line); };
    }
    po.gateway_address = f.gateway_address.empty() ? f.node_ip : f.gateway_address;
    po.gateway_labels.clear();
    for (const std::string& kv : f.gateway_labels) {
      const size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        spdlog::critical("--gateway-label {}: expected key=value", kv);
        return 1;
      }
      po.gateway_labels[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    gateway_labels = po.gateway_labels;
    auto started = proxy::ProxyServer::start(std::move(po));
    if (!started) {
      spdlog::critical("{}", started.error().to_string());
      return 1;
    }
    proxy = std::move(*started);
    spdlog::info("L7 proxy on {}:{} with {} workers", f.node_ip, proxy->port(), f.workers);
  }
  // Gateway listeners follow the config: one per port of the selected
  // Gateways' servers.
  auto sync_gateways = [&] {
    if (!proxy || !sync.current()) return;
    std::set<uint16_t> ports;
    for (const auto& [port, servers] : config::select_gateway_servers(*sync.current(), gateway_labels)) {
      ports.insert(port);
    }
    if (ports == proxy->gateway_ports()) return;
    if (Status s = proxy->set_gateway_ports(ports); !s) spdlog::error("{}", s.error().to_string());
    if (!ports.empty()) spdlog::info("gateway listening on {} port(s)", proxy->gateway_ports().size());
  };
  sync_gateways();

  auto last_beat = std::chrono::steady_clock::time_point{};
  auto last_tx_refresh = std::chrono::steady_clock::now();
  while (!g_stop.load()) {
    // A device that stops taking XDP frames (a pod veth whose peer lost its
    // XDP program or GRO) is unlisted here; until then the kernel drops
    // what is redirected to it. See docs/xdp-lb.md.
    if (xdp && xdp->redirect() && std::chrono::steady_clock::now() - last_tx_refresh >= kXdpTxRefresh) {
      if (Status s = xdp->refresh_tx_devices(); !s) spdlog::warn("XDP forward devices: {}", s.error().to_string());
      last_tx_refresh = std::chrono::steady_clock::now();
    }
    if (proxy && std::chrono::steady_clock::now() - last_beat >= std::chrono::seconds(1)) {
      if (Status s = beat_proxy_heartbeat((*lb)->maps().node); !s) spdlog::warn("heartbeat: {}", s.error().to_string());
      last_beat = std::chrono::steady_clock::now();
    }
    if (proxy) mirror_ejections(*proxy->clusters(), maps);
    if (queue.wait(std::chrono::milliseconds(200))) {
      sync.reload();
      sync_xdp();
      sync_gateways();
    }
  }
  spdlog::info("shutting down");
  if (proxy) {
    // HTTP ports go back to L4 balancing at once, then the listener closes.
    (void)clear_proxy_heartbeat((*lb)->maps().node);
    proxy->stop();
  }
  (*watcher)->stop();
  (*admin)->stop();
  if (xdp) {
    if (Status s = xdp->stop(f.cleanup); !s) spdlog::error("XDP cleanup: {}", s.error().to_string());
  }
  if (f.cleanup && redir) {
    if (Status s = redir->detach(); !s) spdlog::error("socket redirection detach: {}", s.error().to_string());
    redir.reset();
  }
  if (f.cleanup) {
    Status s = (*lb)->detach();
    lb->reset();
    Status r = SockLb::remove_pins(f.pin_dir);
    if (!s || !r) spdlog::error("cleanup: {}", (!s ? s : r).error().to_string());
    spdlog::info("detached and removed {}", f.pin_dir);
  } else {
    spdlog::info("pinned programs and maps stay in {}: L4 balancing continues", f.pin_dir);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"sluiced: sluice's node daemon"};
  app.add_option("--config", f.config, "config directory or file of Istio/Kubernetes YAML (repeatable)")->required();
  app.add_option("--cgroup", f.cgroup,
                 "cgroup v2 directory to attach to; no default. On a node, the cgroup v2 root (with --allow-root-cgroup)")
      ->required();
  app.add_flag("--allow-root-cgroup", f.allow_root_cgroup, "permit attaching to a cgroup v2 mount root (a whole node)");
  app.add_option("--pin-dir", f.pin_dir, "bpffs directory for pinned maps and links")->capture_default_str();
  app.add_option("--node-ip", f.node_ip, "this node's IP address; the L7 proxy listens there (none: L4 only)");
  app.add_option("--admin-address", f.admin_address, "admin API address")->capture_default_str();
  app.add_option("--admin-port", f.admin_port, "admin API port (0: any)")->capture_default_str();
  app.add_option("--proxy-port", f.proxy_port, "L7 proxy listener port (0: no proxy)")->capture_default_str();
  app.add_option("--workers", f.workers, "L7 proxy worker threads (one per core)")->capture_default_str();
  app.add_flag("!--no-access-log", f.access_log, "turn the JSON access log on stdout off");
  app.add_option("--access-log-flush-ms", f.access_log_flush_ms,
                 "access log lines are written every this many ms, or at once when 64 KiB are pending (0: each at once)")
      ->capture_default_str()
      ->check(CLI::Range(0u, 10000u));
  app.add_option("--request-header-timeout-ms", f.header_timeout_ms,
                 "a client must send complete request headers within this, else 408")
      ->capture_default_str();
  app.add_option("--log-level", f.log_level, "trace, debug, info, warn, error")->capture_default_str();
  app.add_option("--debounce-ms", f.debounce_ms, "quiet time after a config change before reloading")
      ->capture_default_str();
  app.add_flag("--cleanup", f.cleanup, "on exit, detach and remove all pinned state (stops the data path)");
  app.add_option("--external-iface", f.external_iface,
                 "node's external interface: XDP load balancing of LoadBalancer and external IPs (none: off)");
  app.add_option("--node-name", f.node_name, "this node's Kubernetes name, for externalTrafficPolicy: Local");
  app.add_option("--socket-redirect", f.socket_redirect,
                 "sockhash fast path between local sockets: proxy (only bytes the proxy receives), off, on, "
                 "or auto (bulk senders stay on the stack)")
      ->check(CLI::IsMember({"proxy", "off", "on", "auto"}))
      ->capture_default_str();
  app.add_option("--pod-cidr", f.pod_cidr, "this node's pod network (e.g. 10.244.1.0/24): connections between "
                                           "it and --node-ip are local");
  app.add_option("--gateway-address", f.gateway_address,
                 "address of the Gateway listeners (default: --node-ip; on a node, its external address)");
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
  f.socket_redirect_given = app.count("--socket-redirect") > 0;

  spdlog::set_level(spdlog::level::from_str(f.log_level));
  // The access log writes to fd 1 itself (in batches, every
  // --access-log-flush-ms); anything printed through stdio must reach the
  // descriptor a line at a time, so the two never interleave mid-line.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  return run(f);
}
