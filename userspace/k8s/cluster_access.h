// How to reach and authenticate to the Kubernetes API server: in a pod
// (the service-account token and CA, KUBERNETES_SERVICE_HOST/PORT), or from
// a kubeconfig file (its current context, or a named one).
#pragma once

#include <sys/types.h>

#include <mutex>
#include <string>

#include "result.h"

namespace sluice::kube {

struct ClusterAccess {
  std::string server;  // "https://host:port", for logs
  std::string host;    // to connect to and to verify the certificate against
  std::string port = "443";
  std::string ca_pem;  // trusted CAs; empty: the system's
  bool insecure_skip_verify = false;  // kubeconfig insecure-skip-tls-verify
  std::string token;       // a bearer token given inline
  std::string token_file;  // or read from here, again whenever it changes
  std::string client_cert_pem, client_key_pem;  // client certificate authentication
  std::string pod_namespace;  // in cluster: the namespace of sluiced's own pod
};

// The service-account credentials of a pod. The token file is a projected
// volume that the kubelet rotates (by default hourly), so it is re-read
// when it changes, not read once.
Result<ClusterAccess> in_cluster_access(const std::string& secrets_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

// A kubeconfig file: the named context, or its current-context. Relative
// file paths in it are relative to the file's directory, as kubectl reads
// them. Only https servers are accepted: a token is never sent in clear.
Result<ClusterAccess> kubeconfig_access(const std::string& path, const std::string& context = "");

// The bearer token to send now: the inline one, or the token file's
// content, re-read when the file's mtime or size changes (a projected token
// is replaced by an atomic symlink swap, which changes both). Thread-safe.
class TokenSource {
 public:
  explicit TokenSource(const ClusterAccess& access) : inline_(access.token), file_(access.token_file) {}
  std::string token();
  // After a 401: the next token() reads the file again even if it looks the same.
  void invalidate();

 private:
  std::mutex mu_;
  const std::string inline_;
  const std::string file_;
  std::string cached_;
  time_t mtime_ = 0;
  long mtime_ns_ = 0;
  off_t size_ = -1;
};

}  // namespace sluice::kube
