#include "node_daemon.h"

#include <spdlog/spdlog.h>

#include "admin_routes.h"
#include "ejection_mirror.h"
#include "ip_text.h"
#include "kernel_features_setup.h"
#include "proxy_redirect.h"
#include "socket_redirect_setup.h"

namespace sluice::daemon {

namespace {

// How often the XDP forward path re-reads which devices take XDP frames.
constexpr std::chrono::seconds kXdpTxRefresh{1};
// How often the proxy's heartbeat is written; the kernel sends HTTP ports
// back to L4 balancing when it goes stale.
constexpr std::chrono::seconds kHeartbeat{1};
// The longest the loop sleeps between ticks when no reload is due.
constexpr std::chrono::milliseconds kTick{200};

}  // namespace

Result<std::unique_ptr<NodeDaemon>> NodeDaemon::start(const DaemonOptions& options) {
  std::unique_ptr<NodeDaemon> d(new NodeDaemon(options));
  for (Status (NodeDaemon::*step)() : {&NodeDaemon::start_kernel, &NodeDaemon::start_config, &NodeDaemon::start_xdp,
                                       &NodeDaemon::start_admin, &NodeDaemon::start_proxy}) {
    if (Status s = ((*d).*step)(); !s) return s.error();
  }
  return d;
}

Status NodeDaemon::start_kernel() {
  l7_ = !o_.node_ip.empty() && o_.proxy_port != 0;
  if (l7_ && !parse_ipv4(o_.node_ip, node_ip_)) {
    return make_error(0, "--node-ip " + o_.node_ip + " is not an IPv4 address");
  }
  auto features = check_kernel_features(o_, l7_);
  if (!features) return features.error();
  features_ = std::move(*features);
  SockLbOptions lb_options{.pin_dir = o_.pin_dir};
  if (l7_) {
    lb_options.proxy_ip = node_ip_;
    lb_options.proxy_port = o_.proxy_port;
    lb_options.bypass_mark = kProxyBypassMark;
  }
  auto lb = SockLb::load(lb_options);
  if (!lb) return lb.error();
  lb_ = std::move(*lb);
  if (Status s = lb_->attach({o_.cgroup, o_.allow_root_cgroup}); !s) return s;
  spdlog::info("kernel programs attached to {} (pin dir {}, maps {}, {} links adopted)", o_.cgroup, o_.pin_dir,
               lb_->reused_maps() ? "reused" : "created", lb_->adopted_links());
  auto redir = start_socket_redirect(o_, l7_, node_ip_);
  if (!redir) return redir.error();
  redir_ = std::move(*redir);
  return {};
}

Status NodeDaemon::start_config() {
  std::unique_ptr<config::ConfigSource> source;
  if (o_.kube || !o_.kubeconfig.empty()) {
    auto access = o_.kube ? kube::in_cluster_access() : kube::kubeconfig_access(o_.kubeconfig, o_.kube_context);
    if (!access) return access.error();
    auto started = kube::KubeSource::start({.access = *access, .debounce = std::chrono::milliseconds(o_.debounce_ms)},
                                           [this] { queue_.request(); });
    if (!started) return make_error(0, "kubernetes client: " + started.error().to_string());
    kube_ = started->get();
    source = std::move(*started);
  } else {
    source = std::make_unique<config::FileSource>(o_.config);
  }
  maps_ = std::make_unique<KernelDatapathMaps>(lb_->maps());
  sync_ = std::make_unique<ConfigSync>(std::move(source), *maps_);
  sync_->adopt_kernel_state();
  if (kube_ && !kube_->wait_synced(std::chrono::seconds(o_.kube_sync_timeout_s))) {
    // A config from a partial list would take away what the missing types
    // hold: the kernel keeps what it has (pinned by an earlier run) until
    // every type is listed, and the first reload follows then.
    spdlog::warn("kubernetes: not every resource type is listed after {} s; the first config waits for them",
                 o_.kube_sync_timeout_s);
    return {};
  }
  sync_->reload();
  return {};
}

Status NodeDaemon::start_xdp() {
  if (!o_.external_iface.empty()) {
    XdpDaemonOptions xo{.iface = o_.external_iface, .pin_dir = o_.pin_dir, .node = {o_.node_name, {}},
                        .force_generic = o_.xdp_generic};
    xo.redirect = o_.xdp_redirect == "on";
    if (node_ip_) xo.node.node_ips.insert(node_ip_);
    auto started = XdpDaemon::start(xo);
    if (!started) return make_error(0, "XDP on " + o_.external_iface + ": " + started.error().to_string());
    xdp_ = std::move(*started);
    spdlog::info("XDP load balancer on {} ({} mode), reverse NAT on its TC egress, XDP forward {} ({} device(s) "
                 "take XDP frames)",
                 o_.external_iface, xdp_mode_name(xdp_->mode()), o_.xdp_redirect, xdp_->tx_devices().size());
    fanout_.subscribe("xdp", [this](const config::MeshSnapshot& snap) {
      if (Status s = xdp_->sync(snap); !s) spdlog::warn("XDP sync: {}", s.error().to_string());
    });
  }
  fanout_.publish(sync_->current());
  last_tx_refresh_ = std::chrono::steady_clock::now();

  if (kube_) return {};  // the Kubernetes source says when it changed
  auto watcher = config::ConfigWatcher::start(o_.config, std::chrono::milliseconds(o_.debounce_ms),
                                              [this] { queue_.request(); });
  if (!watcher) return make_error(0, "watch " + o_.config.front() + ": " + watcher.error().to_string());
  watcher_ = std::move(*watcher);
  return {};
}

Status NodeDaemon::start_admin() {
  clusters_ = std::make_shared<proxy::ClusterRegistry>();
  auto admin = AdminServer::start(o_.admin_address, o_.admin_port,
                                  admin_routes({.ready = ready_,
                                                .sync = *sync_,
                                                .maps = *maps_,
                                                .stats = lb_->maps().stats,
                                                .redirect = redir_.get(),
                                                .xdp = xdp_.get(),
                                                .clusters = clusters_,
                                                .kube = kube_,
                                                .features = &features_}));
  if (!admin) return make_error(0, "admin API: " + admin.error().to_string());
  admin_ = std::move(*admin);
  spdlog::info("admin API on {}:{}", o_.admin_address, admin_->port());
  return {};
}

Status NodeDaemon::start_proxy() {
  if (l7_) {
    auto started = start_l7_proxy(o_, lb_->maps(), [sync = sync_.get()] { return sync->current(); }, clusters_);
    if (!started) return started.error();
    proxy_ = std::move(*started);
    gateways_ = std::make_unique<GatewayListeners>(*proxy_.server, proxy_.gateway_labels);
    fanout_.subscribe("gateway listeners", [this](const config::MeshSnapshot& snap) { gateways_->follow(snap); });
    if (config::SnapshotPtr snap = sync_->current()) gateways_->follow(*snap);
  }
  return {};
}

void NodeDaemon::tick() {
  const auto now = std::chrono::steady_clock::now();
  // A device that stops taking XDP frames (a pod veth whose peer lost its
  // XDP program or GRO) is unlisted here; until then the kernel drops
  // what is redirected to it. See docs/xdp-lb.md.
  if (xdp_ && xdp_->redirect() && now - last_tx_refresh_ >= kXdpTxRefresh) {
    if (Status s = xdp_->refresh_tx_devices(); !s) spdlog::warn("XDP forward devices: {}", s.error().to_string());
    last_tx_refresh_ = now;
  }
  if (proxy_.server && now - last_beat_ >= kHeartbeat) {
    if (Status s = beat_proxy_heartbeat(lb_->maps().node); !s) spdlog::warn("heartbeat: {}", s.error().to_string());
    last_beat_ = now;
  }
  if (proxy_.server) mirror_ejections(*proxy_.server->clusters(), *maps_);
}

void NodeDaemon::reload() {
  if (kube_ && !kube_->synced()) return;
  sync_->reload();
  fanout_.publish(sync_->current());
}

void NodeDaemon::run(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    tick();
    if (queue_.wait(kTick)) reload();
  }
  shutdown();
}

void NodeDaemon::shutdown() {
  spdlog::info("shutting down");
  if (proxy_.server) {
    // HTTP ports go back to L4 balancing at once, then the listener closes.
    (void)clear_proxy_heartbeat(lb_->maps().node);
    proxy_.server->stop();
  }
  if (watcher_) watcher_->stop();
  if (kube_) kube_->stop();
  admin_->stop();
  if (xdp_) {
    if (Status s = xdp_->stop(o_.cleanup); !s) spdlog::error("XDP cleanup: {}", s.error().to_string());
  }
  if (o_.cleanup && redir_) {
    if (Status s = redir_->detach(); !s) spdlog::error("socket redirection detach: {}", s.error().to_string());
    redir_.reset();
  }
  if (o_.cleanup) {
    Status s = lb_->detach();
    lb_.reset();
    Status r = SockLb::remove_pins(o_.pin_dir);
    if (!s || !r) spdlog::error("cleanup: {}", (!s ? s : r).error().to_string());
    spdlog::info("detached and removed {}", o_.pin_dir);
  } else {
    spdlog::info("pinned programs and maps stay in {}: L4 balancing continues", o_.pin_dir);
  }
}

int run_node_daemon(const DaemonOptions& options, const std::atomic<bool>& stop) {
  auto daemon = NodeDaemon::start(options);
  if (!daemon) {
    spdlog::critical("{}", daemon.error().to_string());
    return 1;
  }
  (*daemon)->run(stop);
  return 0;
}

}  // namespace sluice::daemon
