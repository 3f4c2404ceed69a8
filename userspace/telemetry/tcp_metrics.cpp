#include "tcp_metrics.h"

#include <map>
#include <unordered_map>

#include "ip_text.h"
#include "metric_labels.h"
#include "request_metrics.h"

namespace sluice::telemetry {

namespace {

struct Sums {
  uint64_t opened = 0, closed = 0, sent = 0, received = 0;
};

uint64_t vip_port(uint32_t vip, uint16_t port) { return uint64_t{vip} << 16 | port; }

}  // namespace

void write_tcp_metrics(ExpositionWriter& w, const std::vector<TcpEdge>& edges, const config::MeshSnapshot& snap) {
  std::unordered_map<uint32_t, const config::K8sResource<k8s::Pod>*> pods;
  for (const auto& pod : snap.resources.pods) {
    if (uint32_t ip = 0; parse_ipv4(pod->object.status().pod_ip(), ip)) pods[ip] = pod.get();
  }
  std::unordered_map<uint64_t, const config::Service*> services;
  for (const auto& [fqdn, svc] : snap.services) {
    if (!svc->vip) continue;
    for (const auto& p : svc->ports) services[vip_port(svc->vip, p.port)] = svc.get();
  }
  auto workload = [&](uint32_t ip) {
    auto it = pods.find(ip);
    return it == pods.end() ? WorkloadLabels{} : workload_labels(*it->second);
  };

  // By label set, in a stable order.
  std::map<std::string, Sums> series;
  for (const TcpEdge& e : edges) {
    ServiceLabels svc;
    if (auto it = services.find(vip_port(e.vip, e.port)); it != services.end()) {
      svc.fqdn = it->second->fqdn;
      if (!it->second->name.empty()) svc.name = it->second->name;
      if (!it->second->ns.empty()) svc.ns = it->second->ns;
    } else {
      svc.fqdn = format_endpoint(e.vip, e.port);  // a service removed since: its address
    }
    std::string labels;
    ExpositionWriter::append_label(labels, "reporter", "source");
    append_workload_labels(labels, "source", workload(e.src_ip));
    append_workload_labels(labels, "destination", workload(e.dst_ip));
    ExpositionWriter::append_label(labels, "destination_service", svc.fqdn);
    ExpositionWriter::append_label(labels, "destination_service_name", svc.name);
    ExpositionWriter::append_label(labels, "destination_service_namespace", svc.ns);
    ExpositionWriter::append_label(labels, "request_protocol", "tcp");
    ExpositionWriter::append_label(labels, "response_flags", "-");
    ExpositionWriter::append_label(labels, "connection_security_policy", "unknown");
    Sums& s = series[labels];
    s.opened += e.opened;
    s.closed += e.closed;
    // Istio's direction names: "sent" is the response, "received" the request.
    s.sent += e.bytes_from_backend;
    s.received += e.bytes_to_backend;
  }

  struct Family {
    const char* name;
    const char* help;
    uint64_t Sums::*value;
  };
  for (const Family& f : {Family{"istio_tcp_connections_opened", "TCP connections opened, counted by the kernel at connect.",
                                 &Sums::opened},
                          Family{"istio_tcp_connections_closed", "TCP connections closed, counted by the kernel.", &Sums::closed},
                          Family{"istio_tcp_sent_bytes", "Bytes sent in responses (server to client) of closed TCP connections.",
                                 &Sums::sent},
                          Family{"istio_tcp_received_bytes",
                                 "Bytes received in requests (client to server) of closed TCP connections.", &Sums::received}}) {
    w.counter(f.name, f.help);
    for (const auto& [labels, sums] : series) w.counter_sample(f.name, labels, sums.*f.value);
  }
}

}  // namespace sluice::telemetry
