// A finished span as sluiced reports it: what the proxy fills in at a
// request's completion and the OTLP exporter encodes (otlp_encoder.h).
// Attribute values are strings, as Envoy's tracers (and so Istio's spans)
// set their tags.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "trace_context.h"

namespace sluice::telemetry {

enum class SpanKind : uint8_t { kInternal = 1, kServer = 2, kClient = 3 };

struct Span {
  // The resource's service.name for this span: the client workload's
  // "<canonical service>.<namespace>", which is what an Istio sidecar names
  // its spans by, so Jaeger shows the calling application; empty: the
  // exporter's own (sluiced).
  std::string service;
  TraceId trace_id;
  uint64_t span_id = 0;
  uint64_t parent_span_id = 0;  // 0: a root span
  std::string trace_state;
  std::string name;
  SpanKind kind = SpanKind::kClient;
  uint64_t start_unix_ns = 0;
  uint64_t end_unix_ns = 0;
  bool error = false;  // OTLP status ERROR (a 5xx, or no response)
  // Keys are static strings (the attribute names are literals): only the
  // values are copied, as a sampled request builds some 40 of them.
  std::vector<std::pair<std::string_view, std::string>> attributes;

  void set(std::string_view static_key, std::string value) { attributes.emplace_back(static_key, std::move(value)); }
};

}  // namespace sluice::telemetry
