// The test PKI of the test Kubernetes API server, made in-process with
// OpenSSL: an EC P-256 CA and a server certificate it signs for 127.0.0.1,
// ::1 and localhost (serverAuth). A directory that already holds ca.pem and
// ca-key.pem keeps its CA, so clients trusting it survive a restart.
#pragma once

#include <string>

#include "result.h"

namespace sluice::testing {

struct KubeApiPki {
  std::string ca_pem;
  std::string ca_key_pem;
  std::string cert_pem;  // the server's, signed by the CA
  std::string key_pem;
};

// Loads the CA from dir (ca.pem, ca-key.pem) or makes one and writes it
// there, then issues a fresh server certificate (server.pem,
// server-key.pem). Keys are written with mode 0600.
Result<KubeApiPki> make_kube_api_pki(const std::string& dir);

// A client certificate signed by the CA (clientAuth), with CN `user` and O
// `group`, as kube-apiserver maps x509 client certificates to users.
Result<std::pair<std::string, std::string>> issue_client_cert(const KubeApiPki& pki, const std::string& user,
                                                              const std::string& group);

}  // namespace sluice::testing
