// Istio's request metrics as a completion filter: one record per request,
// at the point the access log line is written, in this worker's own shard
// (telemetry/request_metrics.h): no lock, no string built.
#pragma once

#include <cstdint>
#include <memory>

#include "metric_labels.h"
#include "request_filter.h"
#include "request_metrics.h"

namespace sluice::proxy {

class MetricsFilter final : public RequestFilter {
 public:
  explicit MetricsFilter(std::shared_ptr<telemetry::RequestMetrics> metrics)
      : metrics_(std::move(metrics)), shard_(metrics_->new_shard()), labels_(*metrics_) {}

  FilterAction on_request(RequestContext&) override { return {}; }

  void on_complete(const RequestContext& ctx, const telemetry::AccessLogEntry& done) override {
    telemetry::RequestKey key;
    if (const config::MeshSnapshot* snap = ctx.route.snapshot.get()) {
      key.source = labels_.workload(*snap, ctx.downstream.peer_ip);
      key.destination = done.upstream_ip ? labels_.workload(*snap, done.upstream_ip) : 0;
      key.service = labels_.service(*snap, ctx.route.service);
    }
    key.response_code = static_cast<uint16_t>(done.status);
    key.flags = done.flags.bits();
    key.grpc = done.grpc;
    key.grpc_status = done.grpc && done.grpc_status <= INT16_MAX ? static_cast<int16_t>(done.grpc_status) : -1;
    shard_.record(key, done.duration_ms, done.request_bytes, done.response_bytes);
  }

 private:
  std::shared_ptr<telemetry::RequestMetrics> metrics_;  // keeps the shard alive
  telemetry::RequestMetricsShard& shard_;
  telemetry::MetricLabelResolver labels_;
};

}  // namespace sluice::proxy
