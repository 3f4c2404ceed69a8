// What the tracing filter is configured with (ProxyOptions::tracing).
#pragma once

#include <memory>
#include <string>

#include "span_exporter.h"

namespace sluice::proxy {

struct TracingSettings {
  std::shared_ptr<telemetry::SpanExporter> exporter;  // null: tracing off
  double sample_percent = 1.0;  // without the client's decision; Istio's default
  std::string node_id;          // the span attribute node_id
};

}  // namespace sluice::proxy
