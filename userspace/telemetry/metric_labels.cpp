#include "metric_labels.h"

#include <set>

#include "ip_text.h"

namespace sluice::telemetry {

namespace {

std::string_view label_or(const config::Labels& labels, std::initializer_list<std::string_view> keys,
                          std::string_view fallback) {
  for (std::string_view k : keys) {
    if (auto it = labels.find(std::string(k)); it != labels.end() && !it->second.empty()) return it->second;
  }
  return fallback;
}

}  // namespace

std::string workload_name(std::string_view pod_name, const config::Labels& labels) {
  if (auto hash = labels.find("pod-template-hash"); hash != labels.end() && !hash->second.empty()) {
    const std::string infix = "-" + hash->second + "-";
    if (const size_t at = pod_name.rfind(infix); at != std::string_view::npos && at > 0) {
      return std::string(pod_name.substr(0, at));
    }
  }
  return std::string(pod_name);
}

WorkloadLabels workload_labels(const config::K8sResource<k8s::Pod>& pod) {
  const config::Labels& labels = pod.meta.labels;
  WorkloadLabels w;
  w.workload = workload_name(pod.meta.name, labels);
  w.ns = pod.meta.ns.empty() ? "default" : pod.meta.ns;
  w.app = label_or(labels, {"app", "app.kubernetes.io/name"}, "unknown");
  w.version = label_or(labels, {"version", "app.kubernetes.io/version"}, "unknown");
  w.canonical_service = canonical_service(labels, w.workload);
  w.canonical_revision = canonical_revision(labels);
  return w;
}

std::string canonical_service(const config::Labels& labels, std::string_view workload) {
  return std::string(label_or(labels, {"service.istio.io/canonical-name", "app.kubernetes.io/name", "app"}, workload));
}

std::string canonical_revision(const config::Labels& labels) {
  return std::string(
      label_or(labels, {"service.istio.io/canonical-revision", "app.kubernetes.io/version", "version"}, "latest"));
}

size_t expire_deleted(RequestMetrics& metrics, const config::MeshSnapshot& snap) {
  std::set<WorkloadLabels> workloads;
  for (const auto& pod : snap.resources.pods) workloads.insert(workload_labels(*pod));
  std::set<std::string> services;
  for (const auto& [fqdn, svc] : snap.services) services.insert(fqdn);
  return metrics.expire({.workload = [&](const WorkloadLabels& w) { return workloads.contains(w); },
                         .service = [&](const ServiceLabels& s) { return services.contains(s.fqdn); }});
}

void MetricLabelResolver::refresh(const config::MeshSnapshot& snap) {
  if (snap.version == version_) return;
  version_ = snap.version;
  pods_by_ip_.clear();
  workload_ids_.clear();
  service_ids_.clear();
  for (const auto& pod : snap.resources.pods) {
    if (uint32_t ip = 0; parse_ipv4(pod->object.status().pod_ip(), ip)) pods_by_ip_[ip] = pod.get();
  }
}

uint32_t MetricLabelResolver::workload(const config::MeshSnapshot& snap, uint32_t ip) {
  refresh(snap);
  if (auto it = workload_ids_.find(ip); it != workload_ids_.end()) return it->second;
  uint32_t id = 0;
  if (auto pod = pods_by_ip_.find(ip); pod != pods_by_ip_.end()) {
    id = metrics_.workloads().intern(workload_labels(*pod->second));
  }
  workload_ids_.emplace(ip, id);
  return id;
}

uint32_t MetricLabelResolver::service(const config::MeshSnapshot& snap, const config::Service* s) {
  if (!s) return 0;
  refresh(snap);
  if (auto it = service_ids_.find(s); it != service_ids_.end()) return it->second;
  ServiceLabels labels;
  labels.fqdn = s->fqdn;
  if (!s->name.empty()) labels.name = s->name;
  if (!s->ns.empty()) labels.ns = s->ns;
  const uint32_t id = metrics_.services().intern(labels);
  service_ids_.emplace(s, id);
  return id;
}

}  // namespace sluice::telemetry
