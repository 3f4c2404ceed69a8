#include "otlp_encoder.h"

#include <map>
#include <string_view>

#include <google/protobuf/arena.h>

#include "otlp_trace.pb.h"

namespace sluice::telemetry {

namespace {

void put_be64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string trace_id_bytes(const TraceId& id) {
  std::string b;
  b.reserve(16);
  put_be64(b, id.hi);
  put_be64(b, id.lo);
  return b;
}

std::string span_id_bytes(uint64_t id) {
  std::string b;
  b.reserve(8);
  put_be64(b, id);
  return b;
}

void add_attribute(google::protobuf::RepeatedPtrField<otlp::KeyValue>& to, std::string_view key,
                   const std::string& value) {
  otlp::KeyValue* kv = to.Add();
  kv->set_key(key.data(), key.size());  // straight into the arena, no temporary string
  kv->mutable_value()->set_string_value(value);
}

}  // namespace

std::string encode_otlp_request(std::span<const Span> spans, const ResourceAttributes& resource) {
  // One arena for the whole message: its hundreds of small objects and
  // strings are bump-allocated and freed at once, not one by one.
  google::protobuf::Arena arena;
  otlp::ExportTraceServiceRequest& req = *google::protobuf::Arena::CreateMessage<otlp::ExportTraceServiceRequest>(&arena);
  std::map<std::string_view, otlp::ScopeSpans*> by_service;
  auto scope_of = [&](std::string_view service) {
    otlp::ScopeSpans*& ss = by_service[service];
    if (ss) return ss;
    otlp::ResourceSpans* rs = req.add_resource_spans();
    auto& attrs = *rs->mutable_resource()->mutable_attributes();
    for (const auto& [k, v] : resource) {
      if (!(k == "service.name" && !service.empty())) add_attribute(attrs, k, v);
    }
    if (!service.empty()) add_attribute(attrs, "service.name", std::string(service));
    ss = rs->add_scope_spans();
    ss->mutable_scope()->set_name("sluice");
    return ss;
  };
  for (const Span& s : spans) {
    otlp::Span* out = scope_of(s.service)->add_spans();
    out->set_trace_id(trace_id_bytes(s.trace_id));
    out->set_span_id(span_id_bytes(s.span_id));
    if (s.parent_span_id != 0) out->set_parent_span_id(span_id_bytes(s.parent_span_id));
    if (!s.trace_state.empty()) out->set_trace_state(s.trace_state);
    out->set_flags(1);  // W3C sampled: only sampled spans are exported
    out->set_name(s.name);
    out->set_kind(static_cast<otlp::Span::SpanKind>(s.kind));
    out->set_start_time_unix_nano(s.start_unix_ns);
    out->set_end_time_unix_nano(s.end_unix_ns);
    for (const auto& [k, v] : s.attributes) add_attribute(*out->mutable_attributes(), k, v);
    if (s.error) out->mutable_status()->set_code(otlp::Status::STATUS_CODE_ERROR);
  }
  return req.SerializeAsString();
}

}  // namespace sluice::telemetry
