// Istio's workload and service labels from what the snapshot knows of pods
// and services, resolved to interned ids (request_metrics.h). One resolver
// per proxy worker: its caches are its own, rebuilt when the snapshot
// changes, so a request costs two hash lookups and takes a lock only the
// first time a worker meets a workload in a snapshot.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "mesh_snapshot.h"
#include "request_metrics.h"

namespace sluice::telemetry {

// The workload a pod belongs to, as Istio names it: a Deployment's pod
// (pod-template-hash label, name "<deployment>-<hash>-<suffix>") by its
// Deployment; any other pod by its own name. sluice reads no owner
// references, which is where Istio looks first.
std::string workload_name(std::string_view pod_name, const config::Labels& labels);

// Istio's labels of a pod: workload, namespace, app ("app", else
// "app.kubernetes.io/name"), version ("version", else
// "app.kubernetes.io/version"), the canonical service and revision. The
// principal stays "unknown": sluice does not originate mTLS.
WorkloadLabels workload_labels(const config::K8sResource<k8s::Pod>& pod);

// Istio's canonical service and revision of a pod by its labels (also span
// attributes): "service.istio.io/canonical-name", else
// "app.kubernetes.io/name", else "app", else `workload`; the revision from
// "service.istio.io/canonical-revision", "app.kubernetes.io/version",
// "version", else "latest".
std::string canonical_service(const config::Labels& labels, std::string_view workload);
std::string canonical_revision(const config::Labels& labels);

// One expiry pass of `metrics` against `snap` (RequestMetrics::expire): a
// workload is live while a pod of the snapshot has its labels, a service
// while the snapshot has its name. Returns the series hidden now.
size_t expire_deleted(RequestMetrics& metrics, const config::MeshSnapshot& snap);

class MetricLabelResolver {
 public:
  explicit MetricLabelResolver(RequestMetrics& metrics) : metrics_(metrics) {}

  // The ids of the pod at `ip` (host order; 0 or not a pod: unknown) and of
  // a service (null: unknown), in `snap`.
  uint32_t workload(const config::MeshSnapshot& snap, uint32_t ip);
  uint32_t service(const config::MeshSnapshot& snap, const config::Service* s);

 private:
  void refresh(const config::MeshSnapshot& snap);

  RequestMetrics& metrics_;
  uint64_t version_ = ~0ULL;
  std::unordered_map<uint32_t, const config::K8sResource<k8s::Pod>*> pods_by_ip_;
  std::unordered_map<uint32_t, uint32_t> workload_ids_;  // by IP
  std::unordered_map<const config::Service*, uint32_t> service_ids_;
};

}  // namespace sluice::telemetry
