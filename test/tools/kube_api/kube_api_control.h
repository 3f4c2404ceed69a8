// The control interface of the test Kubernetes API server: plain HTTP/1.1 on
// 127.0.0.1, for e2e tests, benchmarks and shells (curl) that script a
// running sluice-kube-api. Each endpoint calls one KubeApiServer method.
//
//   POST /apply                    body: YAML or JSON objects / Lists; create or replace
//                                  -> {"resourceVersion":"N"}
//   POST /delete                   body: objects to delete (apiVersion, kind, metadata)
//   POST /delete?resource=services&namespace=ns&name=n     one object (404 when absent)
//   GET  /object?resource=services&namespace=ns&name=n     the object as the API serves it
//   POST /compact                  forget the event history (old watches get 410)
//   POST /bookmark                 a BOOKMARK now to watches that allow them
//   POST /drop-watches             close every watch mid-stream -> {"dropped":N}
//   POST /down[?seconds=S]         stop listening, close connections; back after S
//                                  seconds (fractions allowed), or on POST /up
//   POST /up
//   POST /token?value=T[&grace_seconds=S]   rotate the accepted token (old one kept S s)
//   POST /forbid?resource=pods     403 Forbidden for that resource ...
//   POST /allow?resource=pods      ... until allowed again
//   POST /watch-chunk-bytes?bytes=N         split watch output into N-byte chunks (0: off)
//   POST /page-size?limit=N        cap pages of limited lists at N items (0: off)
//   GET  /stats                    {"resourceVersion","openWatches","objects","port","down",
//                                   "requests":{"list /api/v1/pods":N,...},"responses":{"200":N,...}}
//   POST /stats/reset              zero the request and response counters
//   GET  /healthz                  "ok"
// Success is 200 with a JSON body; a bad request is 400 {"error":"..."}, an
// unknown path 404, a wrong method 405.
#pragma once

#include <cstdint>
#include <memory>

#include "kube_api_server.h"
#include "result.h"

namespace sluice::testing {

class KubeApiControl {
 public:
  // Large enough for 100k pods in one List.
  static constexpr size_t kMaxBodyBytes = size_t{1} << 30;

  // Serves on 127.0.0.1:port (0 picks one) from a thread of its own. The
  // server must outlive it.
  static Result<std::unique_ptr<KubeApiControl>> start(KubeApiServer& server, uint16_t port = 0);
  ~KubeApiControl();
  KubeApiControl(const KubeApiControl&) = delete;
  KubeApiControl& operator=(const KubeApiControl&) = delete;

  uint16_t port() const;
  void stop();  // idempotent

  struct Impl;

 private:
  explicit KubeApiControl(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::testing
