// The exporter's side of OTLP/HTTP: POST a protobuf body to the receiver's
// URL and read its status, under a deadline, on a kept-alive connection.
// Blocking: only the exporter's own thread calls it (span_exporter.h).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "result.h"

namespace sluice::telemetry {

struct HttpUrl {
  std::string host;
  std::string port;    // "80" when the URL names none
  std::string target;  // path and query, "/" when empty
};

// "http://host[:port][/path]"; https is not supported (a collector on the
// node or in the cluster is reached in plain text, as Istio's Envoys do by
// default).
Result<HttpUrl> parse_http_url(std::string_view url);

class OtlpHttpClient {
 public:
  OtlpHttpClient(HttpUrl url, std::chrono::milliseconds timeout);
  ~OtlpHttpClient();
  OtlpHttpClient(const OtlpHttpClient&) = delete;
  OtlpHttpClient& operator=(const OtlpHttpClient&) = delete;

  // One POST of `body` (application/x-protobuf); the response status, or an
  // error (resolve, connect, I/O, timeout). The whole exchange, connect
  // included, gets `timeout`.
  Result<unsigned> post(const std::string& body);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::telemetry
