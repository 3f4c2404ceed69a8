#include "access_log.h"

#include "json_writer.h"

namespace sluice::telemetry {

std::string format_access_log(const AccessLogEntry& e) {
  JsonWriter w;
  w.begin_object();
  w.key("request_id").value(e.request_id);
  w.key("method").value(e.method);
  w.key("authority").value(e.authority);
  w.key("path").value(e.path);
  w.key("status").value(e.status);
  w.key("flags").value(e.flags.str());
  w.key("route").value(e.route);
  w.key("upstream").value(e.upstream);
  w.key("downstream").value(e.downstream);
  w.key("duration_ms").value(e.duration_ms);
  w.key("attempts").value(e.attempts);
  w.key("request_bytes").value(e.request_bytes);
  w.key("response_bytes").value(e.response_bytes);
  if (!e.protocol.empty()) w.key("protocol").value(e.protocol);
  if (!e.server_name.empty()) w.key("requested_server_name").value(e.server_name);
  if (!e.upstream_transport_failure_reason.empty()) {
    w.key("upstream_transport_failure_reason").value(e.upstream_transport_failure_reason);
  }
  w.end_object();
  return std::move(w).str();
}

}  // namespace sluice::telemetry
