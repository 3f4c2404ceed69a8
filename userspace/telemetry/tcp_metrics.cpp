#include "tcp_metrics.h"

#include <functional>
#include <map>
#include <tuple>
#include <unordered_map>

#include "histogram_quantile.h"
#include "ip_text.h"
#include "metric_labels.h"
#include "request_metrics.h"

namespace sluice::telemetry {

namespace {

struct Sums {
  uint64_t opened = 0, closed = 0, sent = 0, received = 0;
};

uint64_t vip_port(uint32_t vip, uint16_t port) { return uint64_t{vip} << 16 | port; }

// Istio's labels of an edge's ends, from the snapshot's pods and services.
class EdgeNamer {
 public:
  explicit EdgeNamer(const config::MeshSnapshot& snap) {
    for (const auto& pod : snap.resources.pods) {
      if (uint32_t ip = 0; parse_ipv4(pod->object.status().pod_ip(), ip)) pods_[ip] = pod.get();
    }
    for (const auto& [fqdn, svc] : snap.services) {
      if (!svc->vip) continue;
      for (const auto& p : svc->ports) services_[vip_port(svc->vip, p.port)] = svc.get();
    }
  }

  WorkloadLabels workload(uint32_t ip) const {
    auto it = pods_.find(ip);
    return it == pods_.end() ? WorkloadLabels{} : workload_labels(*it->second);
  }

  ServiceLabels service(uint32_t vip, uint16_t port) const {
    ServiceLabels svc;
    if (auto it = services_.find(vip_port(vip, port)); it != services_.end()) {
      svc.fqdn = it->second->fqdn;
      if (!it->second->name.empty()) svc.name = it->second->name;
      if (!it->second->ns.empty()) svc.ns = it->second->ns;
    } else {
      svc.fqdn = format_endpoint(vip, port);  // a service removed since: its address
    }
    return svc;
  }

 private:
  std::unordered_map<uint32_t, const config::K8sResource<k8s::Pod>*> pods_;
  std::unordered_map<uint64_t, const config::Service*> services_;
};

}  // namespace

std::vector<EdgeTotals> tcp_graph_edges(const std::vector<TcpEdge>& edges, const config::MeshSnapshot& snap) {
  const EdgeNamer names(snap);
  auto name = [](const WorkloadLabels& w) { return w.workload == "unknown" ? w.workload : w.workload + "." + w.ns; };
  std::map<std::tuple<std::string, std::string, std::string>, EdgeTotals> merged;
  for (const TcpEdge& e : edges) {
    EdgeTotals& t = merged[{name(names.workload(e.src_ip)), names.service(e.vip, e.port).fqdn, name(names.workload(e.dst_ip))}];
    t.requests += e.opened;
  }
  std::vector<EdgeTotals> out;
  for (auto& [key, t] : merged) {
    std::tie(t.source, t.service, t.destination) = key;
    out.push_back(std::move(t));
  }
  return out;
}

void write_tcp_metrics(ExpositionWriter& w, const std::vector<TcpEdge>& edges, const config::MeshSnapshot& snap) {
  const EdgeNamer names(snap);
  // By label set, in a stable order.
  std::map<std::string, Sums> series;
  for (const TcpEdge& e : edges) {
    const ServiceLabels svc = names.service(e.vip, e.port);
    std::string labels;
    ExpositionWriter::append_label(labels, "reporter", "source");
    append_workload_labels(labels, "source", names.workload(e.src_ip));
    append_workload_labels(labels, "destination", names.workload(e.dst_ip));
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

namespace {

std::string service_labels(const ServiceLabels& svc) {
  std::string labels;
  ExpositionWriter::append_label(labels, "destination_service", svc.fqdn);
  ExpositionWriter::append_label(labels, "destination_service_name", svc.name);
  ExpositionWriter::append_label(labels, "destination_service_namespace", svc.ns);
  return labels;
}

// The services' entries merged by destination_service (two ports of one
// service are one network).
std::map<std::string, ServiceRtt> merged_by_service(const std::vector<ServiceRtt>& services, const EdgeNamer& names,
                                                    const std::function<std::string(const ServiceLabels&)>& key) {
  std::map<std::string, ServiceRtt> merged;
  for (const ServiceRtt& r : services) {
    ServiceRtt& m = merged[key(names.service(r.vip, r.port))];
    for (size_t i = 0; i < m.buckets.size(); ++i) m.buckets[i] += r.buckets[i];
    m.rtt_us_sum += r.rtt_us_sum;
    m.retransmits += r.retransmits;
    m.retransmitting += r.retransmitting;
  }
  return merged;
}

}  // namespace

void write_tcp_rtt_metrics(ExpositionWriter& w, const std::vector<ServiceRtt>& services, const config::MeshSnapshot& snap) {
  const EdgeNamer names(snap);
  const auto series = merged_by_service(services, names, service_labels);
  w.histogram("sluice_tcp_rtt_seconds",
              "Smoothed TCP round-trip time of each closed connection the kernel balanced, at its close, "
              "by destination service.");
  for (const auto& [labels, r] : series) {
    w.histogram_samples("sluice_tcp_rtt_seconds", labels, kTcpRttBoundsSeconds, r.buckets, r.rtt_us_sum / 1e6);
  }
  w.counter("sluice_tcp_retransmitted_segments", "TCP segments retransmitted by closed connections the kernel balanced.");
  for (const auto& [labels, r] : series) w.counter_sample("sluice_tcp_retransmitted_segments", labels, r.retransmits);
  w.counter("sluice_tcp_retransmitting_connections",
            "Closed connections the kernel balanced that retransmitted at least one segment.");
  for (const auto& [labels, r] : series) {
    w.counter_sample("sluice_tcp_retransmitting_connections", labels, r.retransmitting);
  }
}

std::map<std::string, double> median_rtt_ms_by_service(const std::vector<ServiceRtt>& services,
                                                       const config::MeshSnapshot& snap) {
  const EdgeNamer names(snap);
  std::map<std::string, double> out;
  for (const auto& [fqdn, r] : merged_by_service(services, names, [](const ServiceLabels& s) { return s.fqdn; })) {
    uint64_t samples = 0;
    for (uint64_t c : r.buckets) samples += c;
    if (samples) out[fqdn] = 1000 * histogram_quantile(0.5, kTcpRttBoundsSeconds, r.buckets);
  }
  return out;
}

}  // namespace sluice::telemetry
