// The admin API's routes in sluiced: each renders a view (admin_views.h) of
// a part the daemon runs. Optional parts (socket redirection, XDP) have a
// route only when they run.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "admin_server.h"
#include "cluster_registry.h"
#include "config_sync.h"
#include "datapath_maps.h"
#include "kube_source.h"
#include "endpoint_rtt.h"
#include "feature_probe.h"
#include "map_fill.h"
#include "map_handle.h"
#include "readiness.h"
#include "request_metrics.h"
#include "sock_redir_loader.h"
#include "span_exporter.h"
#include "xdp_daemon.h"

namespace sluice::daemon {

// What the routes read; everything must outlive the admin server.
struct AdminSources {
  std::function<Readiness()> readiness;  // asked on every /ready
  const ConfigSync& sync;
  const DatapathMaps& maps;
  PerCpuArrayHandle<uint64_t> stats;  // the socket load balancer's verdict counters
  MapHandle<sl_edge_key, sl_edge_counters> edges;  // its TCP metrics per edge
  MapHandle<sl_svc_key, sl_svc_rtt> rtt;                  // its RTT and retransmits per service
  const EndpointRtt* proxy_rtt = nullptr;                 // the proxy's upstream RTT per service; null: none
  std::function<std::vector<MapFill>()> map_fills;        // its tables' fill levels (a key walk)
  const SockRedir* redirect = nullptr;  // null: not running
  const XdpDaemon* xdp = nullptr;       // null: not running
  std::shared_ptr<proxy::ClusterRegistry> clusters;
  const kube::KubeSource* kube = nullptr;  // null: the config comes from files
  const KernelFeatures* features = nullptr;  // /ready?details shows them
  std::shared_ptr<telemetry::RequestMetrics> metrics;  // the proxy's; null: no proxy
  std::shared_ptr<telemetry::SpanExporter> spans;      // null: tracing off
  std::function<size_t()> proxy_connections;  // the proxy's open downstream connections (0 before it runs)
};

std::map<std::string, AdminHandler> admin_routes(const AdminSources& from);

// GET /metrics: Prometheus text 0.0.4, or OpenMetrics 1.0 when Accept asks
// for it; Istio's request metrics and sluice's own (docs/observability.md).
// Served by the admin API and by the metrics listener (--metrics-port).
AdminHandler metrics_route(const AdminSources& from);

}  // namespace sluice::daemon
