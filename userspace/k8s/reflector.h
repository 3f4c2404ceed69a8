// Keeps one resource type of the store (kube_store.h) in step with the API
// server: list, then watch from the list's resourceVersion, for as long as
// the daemon runs.
//
//   - Lists are paginated (limit/continue); a continue token that expired
//     (410) starts the list again.
//   - Watches ask for bookmarks (allowWatchBookmarks), so a quiet type still
//     advances its resourceVersion, and end after timeoutSeconds (5-10
//     minutes, random, as client-go does); the next watch starts where the
//     last one ended.
//   - 410 Gone (the resourceVersion was compacted away) leads to a relist,
//     which replaces the type's objects and logs those that disappeared.
//   - Any other failure (connection refused or dropped, a timeout, 5xx,
//     401/403) is retried after a jittered exponential backoff, from the
//     last resourceVersion seen; a 401 first re-reads the token file.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "api_connection.h"
#include "kube_store.h"
#include "reflector_status.h"

namespace sluice::kube {

struct ReflectorOptions {
  size_t page_size = 500;
  std::chrono::seconds min_watch_timeout{300};  // a watch asks for [min, 2*min)
  std::chrono::milliseconds backoff_initial{250};
  std::chrono::milliseconds backoff_max{30000};
  std::chrono::seconds request_timeout{60};  // one list page
  std::chrono::milliseconds absent_recheck{30000};  // a type the server does not serve is listed again after this
};

class Reflector {
 public:
  // on_change runs on the client's thread after the store changed.
  Reflector(boost::asio::io_context& ioc, std::shared_ptr<boost::asio::ssl::context> tls, const ClusterAccess& access,
            TokenSource& tokens, KubeStore& store, size_t type, ReflectorOptions options,
            std::function<void()> on_change);

  // Runs until stop(); never throws.
  boost::asio::awaitable<void> run();
  void stop();
  // Closes the connection; on the client's thread, or once it has ended.
  void close() { conn_.close(); }
  ReflectorStatus status() const;

 private:
  enum class WatchEnd { kTimeout, kGone, kFailed };

  boost::asio::awaitable<bool> list();
  boost::asio::awaitable<WatchEnd> watch();
  // Handles one watch event line; false ends the watch with `end` set.
  bool on_event(std::string_view line, WatchEnd& end);
  boost::asio::awaitable<void> backoff();
  void fail(const std::string& what);
  void note_success();
  // A 404 on the list: the type is empty and synced until it is served.
  void note_absent();

  boost::asio::io_context& ioc_;
  const ResourceType type_;
  const size_t index_;
  KubeStore& store_;
  TokenSource& tokens_;
  const ReflectorOptions options_;
  const std::function<void()> on_change_;
  ApiConnection conn_;
  std::atomic<bool> stopped_{false};
  std::minstd_rand rng_;
  unsigned failures_in_a_row_ = 0;
  bool absent_ = false;  // the last list found the type not served

  mutable std::mutex status_mu_;
  ReflectorStatus status_;
  std::string rv_;  // the client thread's own copy of status_.resource_version
  config::JsonDocument doc_;
};

}  // namespace sluice::kube
