#include "node_daemon.h"

#include <spdlog/spdlog.h>

#include <cstring>

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
// How often gateway ports that could not be bound are tried again.
constexpr std::chrono::seconds kGatewayRetry{1};
// The longest the loop sleeps between ticks when nothing wakes it (a stop
// signal or a reload request wakes it at once).
constexpr std::chrono::milliseconds kTick{200};
// How often the drain looks whether the last connection has closed.
constexpr std::chrono::milliseconds kDrainPoll{50};

}  // namespace

Result<std::unique_ptr<NodeDaemon>> NodeDaemon::start(const DaemonOptions& options) {
  std::unique_ptr<NodeDaemon> d(new NodeDaemon(options));
  for (Status (NodeDaemon::*step)() : {&NodeDaemon::start_events, &NodeDaemon::start_kernel, &NodeDaemon::start_config, &NodeDaemon::start_xdp,
                                       &NodeDaemon::start_admin, &NodeDaemon::start_proxy}) {
    if (Status s = ((*d).*step)(); !s) return s.error();
  }
  return d;
}

Status NodeDaemon::start_events() {
  auto events = LoopEvents::create();
  if (!events) return events.error();
  events_ = std::move(*events);
  return {};
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
    auto started = kube::KubeSource::start({.access = *access,
                                            .debounce = std::chrono::milliseconds(o_.debounce_ms),
                                            .node_name = o_.node_name},
                                           [this] { events_->request_reload(); });
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
                                              [this] { events_->request_reload(); });
  if (!watcher) return make_error(0, "watch " + o_.config.front() + ": " + watcher.error().to_string());
  watcher_ = std::move(*watcher);
  return {};
}

Status NodeDaemon::start_admin() {
  clusters_ = std::make_shared<proxy::ClusterRegistry>();
  auto admin = AdminServer::start(o_.admin_address, o_.admin_port,
                                  admin_routes({.readiness = [this] { return readiness(); },
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
    // From here on the kernel sends HTTP ports to the proxy, for as long as
    // this listener is open: the kernel forgets it when the process dies.
    if (Status s = register_proxy_listener(lb_->maps().proxy_listener, proxy_.server->mesh_listener_fd()); !s) {
      return s.error();
    }
    serving_ = proxy_.server.get();
    gateways_serving_ = gateways_.get();
  }
  return {};
}

Readiness NodeDaemon::readiness() const {
  ReadinessFacts f;
  f.programs_attached = lb_ != nullptr;  // start_kernel attached them before the admin API started
  f.config_applied = sync_->current() != nullptr;
  f.proxy_enabled = l7_;
  f.proxy_port = o_.proxy_port;
  f.draining = draining_;
  if (const proxy::ProxyServer* server = serving_) {
    f.proxy_accepting = server->mesh_accepting();
    f.proxy_registered = proxy_listener_registered(lb_->maps().proxy_listener, server->mesh_listener_fd());
    f.gateway_accepting = server->gateway_ports_accepting();
  }
  if (const GatewayListeners* gateways = gateways_serving_) f.gateway_wanted = gateways->wanted();
  return assess_readiness(f);
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
  if (gateways_ && now - last_gateway_retry_ >= kGatewayRetry) {
    gateways_->retry();
    last_gateway_retry_ = now;
  }
  if (proxy_.server) mirror_ejections(*proxy_.server->clusters(), *maps_);
}

void NodeDaemon::reload() {
  if (kube_ && !kube_->synced()) return;
  sync_->reload();
  fanout_.publish(sync_->current());
}

void NodeDaemon::run() {
  for (;;) {
    tick();
    const LoopEvents::Woken woken = events_->wait(kTick);
    if (woken.signal) {
      spdlog::info("{}: draining (at most {} s)", strsignal(woken.signal), o_.drain_timeout_s);
      break;
    }
    if (woken.reload) reload();
  }
  drain();
  shutdown();
}

// docs/operations.md: the kernel stops sending new connections here at once
// (they go to L4), requests under way finish, every response closes its
// connection, idle connections close; bounded by --drain-timeout.
void NodeDaemon::drain() {
  draining_ = true;  // /ready turns false: a load balancer stops sending
  if (!proxy_.server) return;
  const auto start = std::chrono::steady_clock::now();
  if (Status s = unregister_proxy_listener(lb_->maps().proxy_listener, proxy_.server->mesh_listener_fd()); !s) {
    spdlog::warn("drain: {}", s.error().to_string());
  }
  proxy_.server->begin_drain();
  const auto deadline = start + std::chrono::seconds(o_.drain_timeout_s);
  for (auto now = start; now < deadline; now = std::chrono::steady_clock::now()) {
    const size_t open = proxy_.server->open_connections();
    // Until the listeners close, a connection the kernel sent just before the
    // unregister may still be waiting to be accepted.
    if (!proxy_.server->accepting_any() && open == 0) {
      spdlog::info("drained in {} ms", std::chrono::duration_cast<std::chrono::milliseconds>(now - start).count());
      return;
    }
    if (events_->wait(kDrainPoll).signal) {
      spdlog::warn("second stop signal: closing {} connection(s) without waiting", open);
      return;
    }
  }
  spdlog::warn("drain timeout ({} s): closing {} connection(s)", o_.drain_timeout_s,
               proxy_.server->open_connections());
}

void NodeDaemon::shutdown() {
  spdlog::info("shutting down");
  if (proxy_.server) proxy_.server->stop();
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

int run_node_daemon(const DaemonOptions& options) {
  auto daemon = NodeDaemon::start(options);
  if (!daemon) {
    spdlog::critical("{}", daemon.error().to_string());
    return 1;
  }
  (*daemon)->run();
  return 0;
}

}  // namespace sluice::daemon
