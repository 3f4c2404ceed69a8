// One HTTPS connection to the Kubernetes API server, on Beast and OpenSSL:
// GET requests with the bearer token, whole (lists) or as a stream of lines
// (watches, whose body is one JSON event per line, chunk boundaries
// anywhere). The connection is kept alive between requests and opened again
// after any failure.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "cluster_access.h"
#include "result.h"

namespace sluice::kube {

struct ApiReply {
  unsigned status = 0;
  std::string body;  // for a stream, only when the status is not 200
};

// The TLS client context for access: its CA (or the system's), host
// verification, and the client certificate if any.
Result<std::shared_ptr<boost::asio::ssl::context>> make_tls_context(const ClusterAccess& access);

class ApiConnection {
 public:
  ApiConnection(boost::asio::io_context& ioc, std::shared_ptr<boost::asio::ssl::context> tls, const ClusterAccess& access,
                TokenSource& tokens);
  ~ApiConnection();

  // GET target, reading the whole body (at most max_body bytes) within timeout.
  boost::asio::awaitable<Result<ApiReply>> get(const std::string& target, std::chrono::seconds timeout,
                                               size_t max_body = size_t(1) << 30);

  // GET target and give each line of a 200 body to on_line as it arrives.
  // Fails if nothing arrives for idle_timeout, or a line is longer than
  // max_line. on_line returns false to stop; the connection is then closed.
  boost::asio::awaitable<Result<ApiReply>> stream_lines(const std::string& target, std::chrono::seconds idle_timeout,
                                                        const std::function<bool(std::string_view)>& on_line,
                                                        size_t max_line = size_t(64) << 20);

  // Closes the connection at once (a stream in progress fails).
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::kube
