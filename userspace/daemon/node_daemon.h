// The node daemon: loads and attaches the kernel programs (adopting pinned
// state from an earlier run), keeps the kernel tables, the XDP VIPs and the
// gateway listeners in step with the config, runs the L7 proxy and the admin
// API, and mirrors the proxy's outlier ejections into the kernel.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include "admin_routes.h"
#include "admin_server.h"
#include "cluster_registry.h"
#include "config_sync.h"
#include "config_watcher.h"
#include "daemon_options.h"
#include "connect_policy_control.h"
#include "egress_control.h"
#include "endpoint_rtt.h"
#include "feature_probe.h"
#include "gateway_listeners.h"
#include "handover.h"
#include "kernel_datapath_maps.h"
#include "kube_source.h"
#include "l7_proxy.h"
#include "loop_events.h"
#include "pin_dir.h"
#include "readiness.h"
#include "result.h"
#include "snapshot_fanout.h"
#include "sock_lb_loader.h"
#include "sock_redir_loader.h"
#include "xdp_daemon.h"

namespace sluice::daemon {

class NodeDaemon {
 public:
  // Everything up and the first config applied; the error says what could
  // not start (what did start is stopped again, pins stay). Call it before
  // any other thread exists: it takes SIGTERM and SIGINT for itself
  // (loop_events.h).
  static Result<std::unique_ptr<NodeDaemon>> start(const DaemonOptions& options);

  // The main loop until SIGTERM or SIGINT, then the drain (at most
  // --drain-timeout; a second signal cuts it short) and the orderly shutdown
  // (with --cleanup, the pinned state goes too). docs/operations.md.
  void run();

  // What /ready answers; any thread.
  Readiness readiness() const;

 private:
  explicit NodeDaemon(const DaemonOptions& options) : o_(options) {}
  Status start_events();
  Status start_takeover();
  Status start_kernel();
  Status start_config();
  Status start_xdp();
  Status start_admin();
  void start_metrics_listener(const AdminSources& sources);
  Status start_proxy();
  Status finish_takeover();
  void serve_handovers();
  HandedListeners handed_listeners() const;
  void tick();      // XDP devices, ejections, gateway ports not bound yet
  void reload();    // a new config, then its fan-out
  void drain();
  void wait_for_stop();
  void shutdown();

  const DaemonOptions o_;
  // The L7 proxy runs when the node's address is known: HTTP service ports
  // are then redirected to it (while its listener is in sl_proxy_lsn).
  bool l7_ = false;
  uint32_t node_ip_ = 0;  // host order
  KernelFeatures features_;  // probed first, shown on /ready?details
  // Members are in start order, so a failed start stops what did start in
  // reverse.
  std::unique_ptr<LoopEvents> events_;  // before any thread starts; outlives those that wake it
  // While this process takes over from a running sluiced: its listeners.
  std::unique_ptr<HandoverClient> predecessor_;
  std::unique_ptr<SockLb> lb_;
  std::optional<PinDirLock> pin_lock_;  // shared, for our whole life (pin_dir.h)
  std::unique_ptr<SockRedir> redir_;
  std::unique_ptr<KernelDatapathMaps> maps_;
  std::unique_ptr<ConfigSync> sync_;
  std::unique_ptr<XdpDaemon> xdp_;
  std::unique_ptr<EgressControl> egress_;
  std::unique_ptr<EndpointRtt> proxy_rtt_;  // the proxy's upstream RTT, drained from the kernel
  std::unique_ptr<ConnectPolicyControl> connect_policy_;
  std::atomic<bool> draining_{false};
  // A successor has our listeners (handing_over_), and listens on them
  // (handed_over_): the kernel's sl_proxy_lsn is its business from then on.
  std::atomic<bool> handing_over_{false};
  std::atomic<bool> handed_over_{false};
  bool stop_signalled_ = false;  // SIGTERM during the drain that followed a hand-over
  std::unique_ptr<config::ConfigWatcher> watcher_;  // with a file source
  kube::KubeSource* kube_ = nullptr;  // with the Kubernetes source (owned by sync_)
  std::shared_ptr<proxy::ClusterRegistry> clusters_;
  std::unique_ptr<AdminServer> admin_;
  // Istio's request metrics, written by the proxy's workers, read by /metrics.
  std::shared_ptr<telemetry::RequestMetrics> request_metrics_;
  // The OTLP span exporter (--otlp-endpoint), fed by the proxy's workers,
  // counted on /metrics; null: tracing off.
  std::shared_ptr<telemetry::SpanExporter> span_exporter_;
  std::unique_ptr<AdminServer> metrics_server_;  // --metrics-port; null: none
  L7Proxy proxy_;
  std::unique_ptr<GatewayListeners> gateways_;
  // Set once the proxy and the gateway listeners run, for the admin thread
  // (which starts before them) to read.
  std::atomic<const proxy::ProxyServer*> serving_{nullptr};
  std::atomic<const GatewayListeners*> gateways_serving_{nullptr};
  SnapshotFanout fanout_;
  std::unique_ptr<HandoverServer> handover_;  // answers a successor
  std::chrono::steady_clock::time_point last_gateway_retry_{};
  std::chrono::steady_clock::time_point last_tx_refresh_{};
  std::chrono::steady_clock::time_point last_handover_retry_{};
  std::chrono::steady_clock::time_point last_series_expiry_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_rtt_drain_{};
};

// start, then run; 1 (logged) if it could not start.
int run_node_daemon(const DaemonOptions& options);

}  // namespace sluice::daemon
