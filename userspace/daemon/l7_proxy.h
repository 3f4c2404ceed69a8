// The L7 proxy as the daemon runs it: its options from the daemon's, the
// kernel's original-destination map, the access log writer, and the
// gateway workload's labels.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "buffered_line_writer.h"
#include "cluster_registry.h"
#include "daemon_options.h"
#include "mesh_snapshot.h"
#include "proxy_server.h"
#include "result.h"
#include "sock_lb_loader.h"
#include "span_exporter.h"

namespace sluice::daemon {

struct L7Proxy {
  // Declared first, so it outlives the proxy that writes to it.
  std::shared_ptr<telemetry::BufferedLineWriter> access_log;
  std::unique_ptr<proxy::ProxyServer> server;
  std::map<std::string, std::string> gateway_labels;  // of this node's gateway workload
};

// --gateway-label key=value pairs as a map.
// The resource attributes of sluiced's spans, and the node_id attribute
// (Istio's is "sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local"; sluiced's
// "sluiced~<node ip>~<node name>").
telemetry::ResourceAttributes span_resource(const DaemonOptions& o);
std::string span_node_id(const DaemonOptions& o);

Result<std::map<std::string, std::string>> parse_gateway_labels(const std::vector<std::string>& pairs);

// Starts the proxy on --node-ip:--proxy-port. It reads the snapshot in force
// through `snapshot` and shares `clusters`, `metrics` (Istio's request
// metrics, which the admin API renders) and `spans` (the OTLP exporter;
// null: tracing off) with the daemon. `inherited`:
// listening sockets handed over by the sluiced this one replaces, by port.
Result<L7Proxy> start_l7_proxy(const DaemonOptions& o, const SockLbMaps& kernel,
                               std::function<config::SnapshotPtr()> snapshot,
                               std::shared_ptr<proxy::ClusterRegistry> clusters,
                               std::shared_ptr<telemetry::RequestMetrics> metrics,
                               std::shared_ptr<telemetry::SpanExporter> spans,
                               std::map<uint16_t, std::vector<int>> inherited = {});

}  // namespace sluice::daemon
