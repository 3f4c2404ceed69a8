// A test Kubernetes API server: it stands in for kube-apiserver (which
// cannot be installed here) and speaks its wire protocol, so that sluiced's
// Kubernetes client is tested against real HTTPS list and watch exchanges.
//
// Served, as the real API (HTTP/1.1 over TLS on 127.0.0.1, a test CA):
//   GET /api/v1/{plural}, /api/v1/namespaces/{ns}/{plural}, and the same
//   under /apis/{group}/{version}/: lists (kind "ServiceList", items without
//   kind/apiVersion, metadata.resourceVersion, limit + continue, labelSelector,
//   fieldSelector, resourceVersion + resourceVersionMatch), and with
//   watch=true a chunked stream of {"type":...,"object":...} lines (objects
//   with kind/apiVersion; resourceVersion replay from the event history,
//   allowWatchBookmarks, sendInitialEvents, timeoutSeconds). A watch from a
//   compacted version gets 200 and one ERROR event (Status 410 Expired); a
//   list with a compacted continue token or Exact version gets HTTP 410.
//   GET .../{plural}/{name}: one object (404 NotFound Status when absent).
//   GET /api, /apis, /api/v1, /apis/{group}[/{version}], /version: discovery.
//   GET /healthz, /livez, /readyz: "ok", without authentication.
// Every other request needs "Authorization: Bearer <token>" (or a client
// certificate signed by the CA) and otherwise gets 401 with an Unauthorized
// Status. Errors are Status objects (400 BadRequest, 403 Forbidden, 404,
// 405, 410 Expired, 422 Invalid, 504 Timeout); no request crashes it.
//
// Scripting (any thread): apply/remove objects (events, resourceVersion,
// uid, creationTimestamp), compact the history, send bookmarks, drop every
// watch mid-stream, split watch output into chunks of N bytes, cap page
// sizes, go down and come back on the same port, rotate the token, forbid a
// resource, and count requests per verb and path.
//
// Boost.Asio/Beast and OpenSSL stay out of this header.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kube_api_objects.h"
#include "result.h"

namespace sluice::testing {

struct KubeApiOptions {
  uint16_t port = 0;  // on 127.0.0.1; 0 picks a free port
  std::string token = "sluice-test-token";
  // Holds the test PKI (ca.pem, ca-key.pem, server.pem, server-key.pem) and
  // the client files. Empty: a new temporary directory, removed on stop().
  std::string dir;
  size_t history_limit = 10000;  // watch events kept per resource type
  // BOOKMARK events to watches that allow them every so often (the apiserver
  // sends one about every minute); zero: only when bookmark() is called.
  std::chrono::milliseconds bookmark_interval{0};
  // Watches without timeoutSeconds end after this; zero: never.
  std::chrono::seconds default_watch_timeout{0};
  std::string user = "system:serviceaccount:sluice-system:sluiced";  // named in 403 messages
  std::vector<KubeResourceType> resources = default_kube_resource_types();
};

class KubeApiServer {
 public:
  // Limits, so that a misbehaving client costs a bounded amount.
  static constexpr size_t kMaxHeaderBytes = 64 * 1024;  // else 431
  static constexpr size_t kMaxBodyBytes = 1024 * 1024;  // request bodies (reads send none)
  static constexpr std::chrono::seconds kIdleTimeout{300};
  static constexpr std::chrono::seconds kHandshakeTimeout{10};
  static constexpr std::chrono::seconds kWriteTimeout{60};  // per chunk of a list

  static Result<std::unique_ptr<KubeApiServer>> start(KubeApiOptions options);
  ~KubeApiServer();
  KubeApiServer(const KubeApiServer&) = delete;
  KubeApiServer& operator=(const KubeApiServer&) = delete;

  uint16_t port() const;
  std::string url() const;  // https://127.0.0.1:PORT
  const std::string& dir() const;
  std::string ca_path() const;  // dir/ca.pem
  const std::string& ca_pem() const;
  std::string token() const;  // the one accepted now (and the old one during a grace period)

  // A kubeconfig for this server (YAML): cluster "sluice-test" with server and
  // certificate-authority-data, user with the token, current-context set.
  std::string kubeconfig() const;
  // Writes dir/kubeconfig, dir/token and dir/serviceaccount/{token,ca.crt,
  // namespace} (the in-cluster layout); set_token rewrites them after that.
  Status write_client_files();
  // A client certificate and key (PEM) signed by the CA, accepted instead of
  // a token: x509 authentication with CN=user, O=group.
  Result<std::pair<std::string, std::string>> client_certificate(const std::string& user,
                                                                 const std::string& group = "system:masters") const;

  // Objects. Input is YAML or JSON: objects, multi-document YAML, JSON
  // arrays, Lists. Each object is created or replaced whole (uid and
  // creationTimestamp kept when absent), with the next resourceVersion; one
  // call's events reach each watch in one write. Returns the resourceVersion
  // after the call.
  Result<uint64_t> apply(std::string_view text);
  // Deletes the objects the input names (only apiVersion, kind and metadata
  // are read; absent ones are skipped).
  Result<uint64_t> remove(std::string_view text);
  // Deletes by resource (plural, e.g. "services") and name; the namespace is
  // ignored for cluster-scoped types. Absent: ENOENT.
  Result<uint64_t> remove(std::string_view plural, std::string_view ns, std::string_view name);
  uint64_t resource_version() const;
  size_t count(std::string_view plural) const;  // objects of that resource
  // The object as GET returns it (with kind and the preferred apiVersion).
  std::optional<std::string> get(std::string_view plural, std::string_view ns, std::string_view name) const;

  // Forgets the event history: the next watch from an older version gets
  // an ERROR 410 Expired event, a continue token from before gets HTTP 410.
  void compact();
  // A BOOKMARK at the current version to every watch with allowWatchBookmarks.
  void bookmark();
  // Closes every open watch connection without the terminating chunk.
  size_t drop_watches();
  size_t open_watches() const;
  // Watch output is written in chunks of at most n bytes, cut anywhere in an
  // event (n = 0: the events of one batch in one chunk, the default).
  void set_watch_chunk_bytes(size_t n);
  // Lists with a limit return at most n items per page (n = 0: the limit).
  void set_max_page_size(size_t n);
  // Stops listening and closes every connection; comes back on the same port
  // after `duration` (zero: when come_up() is called). Returns once down.
  void go_down(std::chrono::milliseconds duration = std::chrono::milliseconds(0));
  void come_up();
  bool is_down() const;
  // Only `token` is accepted from now on; with a grace period the previous
  // one is accepted too until it ends.
  void set_token(std::string token, std::chrono::seconds grace = std::chrono::seconds(0));
  // Requests for the resource (plural) get 403 Forbidden while set.
  void forbid(std::string_view plural, bool forbidden = true);

  // Requests by verb ("list", "watch", "get", "discovery", "health",
  // "other") and path without the query, e.g. requests("watch",
  // "/api/v1/pods"); counted before authentication.
  uint64_t requests(std::string_view verb, std::string_view path) const;
  std::map<std::string, uint64_t> request_counts() const;  // "list /api/v1/pods" -> n
  uint64_t responses(int status) const;                    // by HTTP status sent
  void reset_counts();
  // {"resourceVersion":"N","openWatches":n,"down":b,"objects":{...},"requests":{...},"responses":{...}}
  std::string stats_json() const;

  // Closes the listener and every connection and joins the thread. Idempotent.
  void stop();

  struct Impl;

 private:
  explicit KubeApiServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::testing
