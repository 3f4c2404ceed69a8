// Spans → one OTLP ExportTraceServiceRequest (proto/otlp_trace.proto), the
// body of an OTLP/HTTP POST with content type application/x-protobuf.
#pragma once

#include <span>
#include <string>
#include <utility>
#include <vector>

#include "span.h"

namespace sluice::telemetry {

// Resource attributes: the sender (service.name and the like).
using ResourceAttributes = std::vector<std::pair<std::string, std::string>>;

// The serialized request: one ResourceSpans per span service (Span::service
// as its service.name, over `resource`'s), each with one ScopeSpans (scope
// "sluice"); ids as big-endian bytes (W3C's order: the hex of a trace id is
// its bytes in order).
std::string encode_otlp_request(std::span<const Span> spans, const ResourceAttributes& resource);

}  // namespace sluice::telemetry
