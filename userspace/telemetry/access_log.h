// One JSON line per request or TCP connection, with Envoy's response flags
// (semantics.md). The entry is also the completion record that request
// filters see (filters/request_filter.h).
#pragma once

#include "request_trace.h"
#include "response_flags.h"

#include <cstdint>
#include <string>

namespace sluice::telemetry {

struct AccessLogEntry {
  std::string request_id;
  std::string method;
  std::string authority;
  std::string path;
  unsigned status = 0;
  ResponseFlags flags;
  std::string route;        // "namespace/name" of the VirtualService, or empty
  std::string upstream;     // "ip:port", or empty
  uint32_t upstream_ip = 0;  // the same address (host order), filled whether or not the log is on: metrics read it
  std::string downstream;   // "ip:port" of the client
  double duration_ms = 0;
  uint32_t attempts = 0;
  uint64_t request_bytes = 0;
  uint64_t response_bytes = 0;
  std::string protocol;     // "HTTP/2" for an HTTP/2 stream (Envoy's %PROTOCOL%); empty: HTTP/1.x or TCP
  bool grpc = false;         // a gRPC request (content-type application/grpc*): request_protocol="grpc"
  int32_t grpc_status = -1;  // a gRPC request's grpc-status (trailers, else headers, else from the HTTP status); -1: none
  // Why connecting failed below HTTP, e.g. a TLS handshake's error (Envoy's
  // %UPSTREAM_TRANSPORT_FAILURE_REASON%); empty: none.
  std::string upstream_transport_failure_reason;
  std::string server_name;  // TCP proxy: the ClientHello's SNI (Envoy's requested_server_name); empty: none
  RequestTrace trace;       // not logged: the spans' state (filters/tracing_filter.h), inactive when tracing is off
};

std::string format_access_log(const AccessLogEntry& e);

}  // namespace sluice::telemetry
