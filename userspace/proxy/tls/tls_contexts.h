// TLS termination for Gateway servers (tls.mode SIMPLE and MUTUAL): the
// certificate, key and CA of a server's credentialName, read from the
// kubernetes.io/tls Secret in the snapshot, as OpenSSL contexts. One cache
// per worker (no locks). A context is keyed by the credential's content, so
// a changed Secret yields a new context for new handshakes: certificates
// change live, with no restart.
//
// Server selection happens in OpenSSL's client-hello callback: it reads SNI,
// picks the port's server for it, switches the connection to that server's
// context and applies its minProtocolVersion / maxProtocolVersion and, for
// MUTUAL, the client-certificate check.
#pragma once

#include <openssl/ssl.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gateway_servers.h"
#include "mesh_snapshot.h"

namespace sluice::proxy {

// PEM text of a credential.
struct TlsCredential {
  std::string cert_chain;
  std::string private_key;
  std::string ca;  // client CAs, for MUTUAL
};

// The Secret `name` in namespace `ns`: data (base64) or stringData keys
// tls.crt, tls.key and ca.crt; for the CA also the Secret "<name>-cacert"
// (Istio's convention). Empty with `error` set when missing or incomplete.
TlsCredential find_tls_credential(const config::MeshSnapshot& snap, const std::string& ns, const std::string& name,
                                  bool need_ca, std::string& error);

// What the client-hello callback needs for one handshake; lives on the
// session's frame while the handshake runs.
struct TlsHandshake {
  const config::MeshSnapshot* snapshot = nullptr;
  const std::vector<config::GatewayServer>* servers = nullptr;  // of the port
  class TlsContexts* contexts = nullptr;
  const config::GatewayServer* chosen = nullptr;  // set by the callback
  std::string sni;
  std::string error;
};

class TlsContexts {
 public:
  TlsContexts();
  ~TlsContexts();
  TlsContexts(const TlsContexts&) = delete;
  TlsContexts& operator=(const TlsContexts&) = delete;

  // A new server-side connection: starts from a context without a
  // certificate, whose client-hello callback picks the real one.
  SSL_CTX* hello_context() const { return hello_; }

  // The context of a server, built (and cached) from its credential; null
  // with `error` set when the credential is unusable.
  SSL_CTX* context_for(const config::MeshSnapshot& snap, const config::GatewayServer& server, std::string& error);

 private:
  SSL_CTX* hello_ = nullptr;
  std::map<std::string, SSL_CTX*> by_key_;
};

// OpenSSL's TLS version constant for an Istio TLSProtocol name (TLSV1_2...);
// 0 for TLS_AUTO or empty.
int tls_version_of(const std::string& istio_name);

}  // namespace sluice::proxy
