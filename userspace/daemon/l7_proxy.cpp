#include "l7_proxy.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "proxy_redirect.h"

namespace sluice::daemon {

Result<std::map<std::string, std::string>> parse_gateway_labels(const std::vector<std::string>& pairs) {
  std::map<std::string, std::string> out;
  for (const std::string& kv : pairs) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return make_error(0, "--gateway-label " + kv + ": expected key=value");
    out[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return out;
}

std::string span_node_id(const DaemonOptions& o) {
  return "sluiced~" + o.node_ip + "~" + (o.node_name.empty() ? "unknown" : o.node_name);
}

telemetry::ResourceAttributes span_resource(const DaemonOptions& o) {
  return {{"service.name", "sluiced"}, {"host.name", o.node_name.empty() ? o.node_ip : o.node_name},
          {"node_id", span_node_id(o)}};
}

Result<L7Proxy> start_l7_proxy(const DaemonOptions& o, const SockLbMaps& kernel,
                               std::function<config::SnapshotPtr()> snapshot,
                               std::shared_ptr<proxy::ClusterRegistry> clusters,
                               std::shared_ptr<telemetry::RequestMetrics> metrics,
                               std::shared_ptr<telemetry::SpanExporter> spans,
                               std::map<uint16_t, std::vector<int>> inherited) {
  L7Proxy out;
  proxy::ProxyOptions po;
  po.address = o.node_ip;
  po.port = o.proxy_port;
  po.workers = o.workers;
  po.bypass_mark = kProxyBypassMark;
  po.clusters = std::move(clusters);
  po.metrics = std::move(metrics);
  po.tracing = {std::move(spans), o.trace_sample_percent, span_node_id(o)};
  po.inherited_listeners = std::move(inherited);
  po.header_timeout = std::chrono::milliseconds(o.header_timeout_ms);
  po.snapshot = std::move(snapshot);
  po.original_destination = [kernel](uint32_t ip, uint16_t port, uint16_t local_port) {
    return original_destination(kernel.orig_dst, ip, port, local_port);
  };
  if (o.access_log) {
    out.access_log =
        std::make_shared<telemetry::BufferedLineWriter>(STDOUT_FILENO, std::chrono::milliseconds(o.access_log_flush_ms));
    po.access_log = [log = out.access_log](const std::string& line) { log->write_line(line); };
  }
  po.gateway_address = o.gateway_address.empty() ? o.node_ip : o.gateway_address;
  po.gateway_trusted_proxies = o.gateway_trusted_proxies;
  auto labels = parse_gateway_labels(o.gateway_labels);
  if (!labels) return labels.error();
  po.gateway_labels = *labels;
  out.gateway_labels = std::move(*labels);
  auto started = proxy::ProxyServer::start(std::move(po));
  if (!started) return started.error();
  out.server = std::move(*started);
  spdlog::info("L7 proxy on {}:{} with {} workers", o.node_ip, out.server->port(), o.workers);
  return out;
}

}  // namespace sluice::daemon
