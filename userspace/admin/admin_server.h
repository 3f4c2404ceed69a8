// The daemon's admin HTTP/1.1 API (stats, config dump, endpoints, health),
// meant for localhost. Handlers run on the server's one thread, one at a time,
// so they should be quick: read a snapshot and render it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <atomic>
#include <mutex>
#include <string>

#include "result.h"

namespace sluice {

struct AdminResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// What a handler sees of a request. Most routes read only the target (path
// plus query string, as sent), so a handler may take it as a plain string.
struct AdminRequest {
  std::string target;
  std::string accept;  // the Accept header (content negotiation: /metrics)
  operator const std::string&() const { return target; }  // NOLINT: a route that reads only the target
};

using AdminHandler = std::function<AdminResponse(const AdminRequest& request)>;

class AdminServer {
 public:
  // Limits, so that a misbehaving client costs a bounded amount.
  static constexpr std::size_t kMaxHeaderBytes = 8 * 1024;  // else 431
  static constexpr std::size_t kMaxBodyBytes = 64 * 1024;   // else 413
  static constexpr int kReadTimeoutSeconds = 10;            // per request, idle keep-alive included
  static constexpr int kWriteTimeoutSeconds = 10;
  static constexpr int kMaxConnections = 64;  // more are closed on accept

  // Binds address:port (port 0 picks a free one), then serves on a new
  // thread. address is numeric (IPv4 or IPv6). Routes are exact paths; the
  // query string plays no part in routing.
  // `inherited_fd`, when not -1, is a listening socket on address:port
  // handed over by the process this one replaces: it is served instead of a
  // new one (which could not bind while that process runs), and owned.
  static Result<std::unique_ptr<AdminServer>> start(const std::string& address, uint16_t port,
                                                    std::map<std::string, AdminHandler> routes,
                                                    int inherited_fd = -1);

  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // The bound port, useful after asking for port 0.
  uint16_t port() const { return port_; }

  // The listening socket (a hand-over passes it on); -1 once stopped.
  int listener_fd() const { return listener_fd_; }

  // Closes the listener and every connection and joins the thread; requests
  // in flight are dropped. Idempotent. Must not be called from a handler.
  void stop();

  struct Impl;

 private:
  explicit AdminServer(std::unique_ptr<Impl> impl, uint16_t port);

  std::mutex stop_mutex_;
  std::unique_ptr<Impl> impl_;  // null once stopped
  uint16_t port_;
  std::atomic<int> listener_fd_;
};

}  // namespace sluice
