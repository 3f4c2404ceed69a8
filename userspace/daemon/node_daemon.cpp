#include "node_daemon.h"

#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <thread>
#include <utility>

#include "admin_routes.h"
#include "ejection_mirror.h"
#include "ip_text.h"
#include "kernel_features_setup.h"
#include "metric_labels.h"
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
// A successor's wait for its workers to accept on the handed-over sockets,
// and for the predecessor to confirm its drain.
constexpr std::chrono::seconds kTakeoverWait{5};
// How often the hand-over name is tried again while a predecessor holds it.
constexpr std::chrono::seconds kHandoverRetry{1};
// How often the request metrics' series of deleted workloads and services
// are looked for: a series goes one to two of these after its last request
// once what it names is gone (telemetry/request_metrics.h).
constexpr std::chrono::seconds kSeriesExpiryPass{60};
// How often the RTT samples of the proxy's upstream connections are moved
// from the kernel's map into their services' totals (admin/endpoint_rtt.h).
constexpr std::chrono::seconds kEndpointRttDrain{10};

// The local port of a listening socket, 0 if unknown.
uint16_t local_port(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0 || a.sin_family != AF_INET) return 0;
  return ntohs(a.sin_port);
}

}  // namespace

Result<std::unique_ptr<NodeDaemon>> NodeDaemon::start(const DaemonOptions& options) {
  std::unique_ptr<NodeDaemon> d(new NodeDaemon(options));
  for (Status (NodeDaemon::*step)() :
       {&NodeDaemon::start_events, &NodeDaemon::start_takeover, &NodeDaemon::start_kernel, &NodeDaemon::start_config,
        &NodeDaemon::start_xdp, &NodeDaemon::start_admin, &NodeDaemon::start_proxy, &NodeDaemon::finish_takeover}) {
    if (Status s = ((*d).*step)(); !s) return s.error();
  }
  d->serve_handovers();
  return d;
}

// docs/operations.md "Upgrades": a sluiced already running on this pin
// directory hands us its listening sockets, so that its listener never
// leaves the kernel's sl_proxy_lsn and no connect is refused or sent around
// the proxy while we start.
Status NodeDaemon::start_takeover() {
  auto client = HandoverClient::connect(o_.pin_dir);
  if (!client) {
    // Starting from scratch is what a restart does anyway: HTTP ports go to
    // L4 until our proxy listens.
    spdlog::warn("{}; starting without the running sluiced's sockets", client.error().to_string());
    return {};
  }
  if (!*client) return {};
  predecessor_ = std::move(**client);
  spdlog::info("taking over from the running sluiced: {}", handover_header(predecessor_->listeners()));
  return {};
}

// Once our workers accept on the handed-over sockets, the predecessor drains.
Status NodeDaemon::finish_takeover() {
  if (!predecessor_) return {};
  const auto deadline = std::chrono::steady_clock::now() + kTakeoverWait;
  auto accepting = [this] {
    const proxy::ProxyServer* server = serving_;
    if (!server) return true;  // no proxy: the admin API is all there is
    if (!server->mesh_accepting()) return false;
    const std::set<uint16_t> on = server->gateway_ports_accepting();
    for (uint16_t p : server->gateway_ports()) {
      if (!on.count(p)) return false;
    }
    return true;
  };
  while (!accepting() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (Status s = predecessor_->listening(kTakeoverWait); !s) spdlog::warn("{}", s.error().to_string());
  else spdlog::info("took over: the previous sluiced drains");
  predecessor_.reset();  // closes whatever nobody took (a port no longer configured)
  return {};
}

void NodeDaemon::serve_handovers() {
  last_handover_retry_ = std::chrono::steady_clock::now();
  auto server = HandoverServer::start(
      o_.pin_dir, {.listeners = [this] { return handed_listeners(); },
                   .handing_over = [this] { handing_over_ = true; },
                   .handed_over =
                       [this] {
                         handed_over_ = true;
                         events_->handed_over();
                       },
                   .aborted = [this] { handing_over_ = false; }});
  if (!server) {
    // A predecessor that has not let go of the name yet: tried on each tick.
    spdlog::debug("{}", server.error().to_string());
    return;
  }
  handover_ = std::move(*server);
}

HandedListeners NodeDaemon::handed_listeners() const {
  HandedListeners out;
  if (admin_) out.admin = admin_->listener_fd();
  if (metrics_server_) out.metrics = metrics_server_->listener_fd();
  if (const proxy::ProxyServer* server = serving_) {
    std::map<uint16_t, std::vector<int>> fds = server->listener_fds();
    out.mesh_port = server->port();
    if (auto it = fds.find(out.mesh_port); it != fds.end()) {
      out.mesh = std::move(it->second);
      fds.erase(it);
    }
    out.gateway = std::move(fds);
  }
  return out;
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
    if (o_.proxy_spread_ports != "off" &&
        !parse_port_range(o_.proxy_spread_ports, lb_options.proxy_spread_first, lb_options.proxy_spread_count)) {
      return make_error(0, "--proxy-spread-ports " + o_.proxy_spread_ports + ": expected FIRST-LAST or off");
    }
    const uint32_t spread_end = uint32_t{lb_options.proxy_spread_first} + lb_options.proxy_spread_count;
    if (lb_options.proxy_spread_count && o_.proxy_port >= lb_options.proxy_spread_first && o_.proxy_port < spread_end) {
      return make_error(0, "--proxy-spread-ports " + o_.proxy_spread_ports + " contains --proxy-port");
    }
  }
  auto lb = SockLb::load(lb_options);
  if (!lb) return lb.error();
  lb_ = std::move(*lb);
  // Held until exit: sluicectl attach and cleanup refuse the directory meanwhile.
  auto lock = PinDirLock::take(o_.pin_dir, PinDirLock::Mode::kShared);
  if (!lock) return lock.error();
  pin_lock_.emplace(std::move(*lock));
  // The programs about to replace the running ones read this new, empty
  // sl_proxy_lsn: the handed-over listener goes in first, so that from the
  // moment they do, HTTP ports still go to a listener (the predecessor's
  // workers and then ours accept on the same socket).
  if (l7_ && predecessor_ && predecessor_->listeners().mesh_port == o_.proxy_port &&
      !predecessor_->listeners().mesh.empty()) {
    if (Status s = register_proxy_listener(lb_->maps().proxy_listener, predecessor_->listeners().mesh.front()); !s) {
      spdlog::warn("hand-over: the kernel did not take the proxy's listener: {}", s.error().to_string());
    }
  }
  auto egress = EgressControl::start(o_, node_ip_, lb_->maps().egress);
  if (!egress) return egress.error();
  egress_ = std::move(*egress);
  proxy_rtt_ = std::make_unique<EndpointRtt>(lb_->maps().rtt);
  fanout_.subscribe("egress", [this](const config::MeshSnapshot& snap) { egress_->follow(snap); });
  connect_policy_ = std::make_unique<ConnectPolicyControl>(o_, lb_->maps().policy_sources, lb_->maps().policy_dests,
                                                           lb_->maps().policy_rules, lb_->maps().conn_rate,
                                                           lb_->maps().policy_peers, node_ip_);
  // The snapshot being published, whole: the control keeps it between
  // rescans of the node's pods.
  fanout_.subscribe("l4-authz", [this](const config::MeshSnapshot&) { connect_policy_->follow(sync_->current()); });
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
  request_metrics_ = std::make_shared<telemetry::RequestMetrics>();
  if (l7_ && !o_.otlp_endpoint.empty()) {
    auto exporter = telemetry::SpanExporter::start({.url = o_.otlp_endpoint, .resource = span_resource(o_)});
    if (!exporter) return make_error(0, "--otlp-endpoint: " + exporter.error().to_string());
    span_exporter_ = std::move(*exporter);
    spdlog::info("tracing: spans to {} over OTLP/HTTP, {}% sampled without the client's decision",
                 o_.otlp_endpoint, o_.trace_sample_percent);
  }
  int inherited = -1;
  if (predecessor_ && predecessor_->listeners().admin >= 0 &&
      local_port(predecessor_->listeners().admin) == o_.admin_port) {
    inherited = std::exchange(predecessor_->listeners().admin, -1);
  }
  const AdminSources sources{.readiness = [this] { return readiness(); },
                             .sync = *sync_,
                             .maps = *maps_,
                             .stats = lb_->maps().stats,
                             .edges = lb_->maps().edges,
                             .rtt = lb_->maps().rtt,
                             .proxy_rtt = proxy_rtt_.get(),
                             .map_fills = [this] { return lb_->map_fills(); },
                             .redirect = redir_.get(),
                             .xdp = xdp_.get(),
                             .clusters = clusters_,
                             .kube = kube_,
                             .features = &features_,
                             .metrics = request_metrics_,
                             .spans = span_exporter_,
                             .proxy_connections = [this]() -> size_t {
                               const proxy::ProxyServer* server = serving_;
                               return server ? server->open_connections() : 0;
                             }};
  auto admin = AdminServer::start(o_.admin_address, o_.admin_port, admin_routes(sources), inherited);
  if (!admin) return make_error(0, "admin API: " + admin.error().to_string());
  admin_ = std::move(*admin);
  spdlog::info("admin API on {}:{}", o_.admin_address, admin_->port());
  start_metrics_listener(sources);
  return {};
}

// The Prometheus port, apart from the admin API (which listens on localhost
// only) so that a scraper can reach it; handed over in an upgrade like the
// admin listener. A port that cannot be bound is an error in the log, not a
// failed start: metrics must never keep the data plane from running.
void NodeDaemon::start_metrics_listener(const AdminSources& sources) {
  if (o_.metrics_port == 0) return;
  int inherited = -1;
  if (predecessor_ && predecessor_->listeners().metrics >= 0 &&
      local_port(predecessor_->listeners().metrics) == o_.metrics_port) {
    inherited = std::exchange(predecessor_->listeners().metrics, -1);
  }
  const AdminHandler metrics = metrics_route(sources);
  auto server = AdminServer::start(o_.metrics_address, o_.metrics_port,
                                   {{"/metrics", metrics}, {"/stats/prometheus", metrics}}, inherited);
  if (!server) {
    spdlog::error("metrics on {}:{}: {} (the admin API still serves /metrics)", o_.metrics_address, o_.metrics_port,
                  server.error().to_string());
    return;
  }
  metrics_server_ = std::move(*server);
  spdlog::info("Prometheus metrics on {}:{}/metrics", o_.metrics_address, metrics_server_->port());
}

Status NodeDaemon::start_proxy() {
  if (l7_) {
    std::map<uint16_t, std::vector<int>> inherited;
    if (predecessor_) {
      HandedListeners& l = predecessor_->listeners();
      inherited = std::exchange(l.gateway, {});
      // A mesh listener on another port than ours is left to close with
      // the hand-over (~HandoverClient): no program redirects to it now.
      if (l.mesh_port == o_.proxy_port) inherited[l.mesh_port] = std::exchange(l.mesh, {});
    }
    auto started = start_l7_proxy(o_, lb_->maps(), [sync = sync_.get()] { return sync->current(); }, clusters_,
                                  o_.request_metrics ? request_metrics_ : nullptr, span_exporter_,
                                  std::move(inherited));
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
  f.handing_over = handing_over_;
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
  if (connect_policy_) connect_policy_->tick(now);
  // New DNS answers move DNS ServiceEntries' VIPs and endpoints: a rebuild.
  if (egress_ && egress_->tick(now)) {
    sync_->set_resolved_hosts(egress_->resolved());
    reload();
  }
  if (!handover_ && now - last_handover_retry_ >= kHandoverRetry) serve_handovers();
  if (proxy_rtt_ && now - last_rtt_drain_ >= kEndpointRttDrain) {
    if (const config::SnapshotPtr snap = sync_->current()) proxy_rtt_->drain(*snap);
    last_rtt_drain_ = now;
  }
  if (request_metrics_ && now - last_series_expiry_ >= kSeriesExpiryPass) {
    if (const config::SnapshotPtr snap = sync_->current()) {
      if (const size_t hidden = telemetry::expire_deleted(*request_metrics_, *snap)) {
        spdlog::debug("metrics: {} series of deleted workloads or services expired", hidden);
      }
    }
    last_series_expiry_ = now;
  }
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
    if (woken.handed_over) {
      spdlog::info("a successor accepts on the handed-over sockets: draining (at most {} s)", o_.drain_timeout_s);
      break;
    }
    if (woken.reload) reload();
  }
  drain();
  if (handed_over_) wait_for_stop();
  shutdown();
}

// After a hand-over the successor runs the node. Exiting now would have the
// kubelet restart this container (a DaemonSet's pods restart always), and
// the restarted process would take the sockets back; so it idles, touching
// nothing, until its pod is deleted (SIGTERM).
void NodeDaemon::wait_for_stop() {
  if (stop_signalled_) return;
  spdlog::info("handed over: idle until SIGTERM");
  while (!events_->wait(std::chrono::hours(1)).signal) {
  }
}

// docs/operations.md: the kernel stops sending new connections here at once
// (they go to L4), requests under way finish, every response closes its
// connection, idle connections close; bounded by --drain-timeout.
//
// After a hand-over (docs/operations.md "Upgrades") the listeners are the
// successor's too: it accepts on them already, so ours close at once, and
// the kernel's slot, which the successor's programs read, stays as it is.
void NodeDaemon::drain() {
  draining_ = true;  // /ready turns false: a load balancer stops sending
  // Read before the hand-over server stops: stopping it mid-exchange aborts it.
  const bool successor = handing_over_ || handed_over_;
  // No successor may take sockets that are about to close.
  if (handover_) handover_->stop();
  if (handed_over_ && admin_) admin_->stop();  // the successor answers on the same socket
  if (handed_over_ && metrics_server_) metrics_server_->stop();
  if (!proxy_.server) return;
  const auto start = std::chrono::steady_clock::now();
  // While a hand-over is under way, the successor may already have put this
  // same listener in the slot its programs read: leave it there. If the
  // successor died meanwhile, the slot empties when our listener closes.
  if (!successor) {
    if (Status s = unregister_proxy_listener(lb_->maps().proxy_listener, proxy_.server->mesh_listener_fd()); !s) {
      spdlog::warn("drain: {}", s.error().to_string());
    }
  }
  proxy_.server->begin_drain(handed_over_ ? std::chrono::milliseconds(0) : proxy::kDrainAcceptGrace);
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
      // After a hand-over the first SIGTERM is the pod's deletion, not a
      // second stop: the drain goes on, and the process exits after it.
      if (handed_over_ && !stop_signalled_) {
        stop_signalled_ = true;
        continue;
      }
      spdlog::warn("second stop signal: closing {} connection(s) without waiting", open);
      return;
    }
  }
  spdlog::warn("drain timeout ({} s): closing {} connection(s)", o_.drain_timeout_s,
               proxy_.server->open_connections());
}

void NodeDaemon::shutdown() {
  spdlog::info("shutting down");
  if (handover_) handover_->stop();
  if (proxy_.server) proxy_.server->stop();
  if (watcher_) watcher_->stop();
  if (kube_) kube_->stop();
  admin_->stop();
  if (metrics_server_) metrics_server_->stop();
  // After a hand-over, the pins and attachments are the successor's.
  const bool cleanup = o_.cleanup && !handed_over_;
  if (xdp_) {
    if (Status s = xdp_->stop(cleanup); !s) spdlog::error("XDP cleanup: {}", s.error().to_string());
  }
  if (cleanup && redir_) {
    if (Status s = redir_->detach(); !s) spdlog::error("socket redirection detach: {}", s.error().to_string());
    redir_.reset();
  }
  if (cleanup) {
    Status s = lb_->detach();
    lb_.reset();
    Status r = SockLb::remove_pins(o_.pin_dir);
    if (!s || !r) {
      spdlog::error("cleanup: {}", (!s ? s : r).error().to_string());
    } else {
      spdlog::info("detached and removed {}", o_.pin_dir);
    }
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
