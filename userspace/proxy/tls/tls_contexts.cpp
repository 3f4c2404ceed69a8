#include "tls_contexts.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <functional>

#include "base64.h"

namespace sluice::proxy {
namespace {

constexpr size_t kMaxContexts = 256;  // a bound on the cache, cleared past it

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return e ? buf : "unknown OpenSSL error";
}

// A key of a Secret: stringData as is, data base64-decoded.
bool secret_value(const k8s::Secret& s, const std::string& key, std::string& out) {
  if (auto it = s.string_data().find(key); it != s.string_data().end()) {
    out = it->second;
    return true;
  }
  if (auto it = s.data().find(key); it != s.data().end()) {
    std::optional<std::string> decoded = base64_decode(it->second);
    if (decoded) out = std::move(*decoded);
    return decoded.has_value();
  }
  return false;
}

// Picks the server for the client's SNI and switches the connection to it.
int on_client_hello(SSL* ssl, int* alert, void*) {
  auto* hs = static_cast<TlsHandshake*>(SSL_get_app_data(ssl));
  if (!hs || !hs->servers || !hs->snapshot) return SSL_CLIENT_HELLO_ERROR;
  const unsigned char* ext = nullptr;
  size_t len = 0;
  // server_name: list length (2), type (1, 0 = host_name), name length (2), name.
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext, &len) && len > 5 && ext[2] == 0) {
    const size_t n = (static_cast<size_t>(ext[3]) << 8) | ext[4];
    if (5 + n <= len) hs->sni.assign(reinterpret_cast<const char*>(ext + 5), n);
  }
  const config::GatewayServer* chosen = config::find_gateway_server(*hs->servers, hs->sni, config::ServerKind::kTls);
  if (!chosen) {
    hs->error = "no HTTPS server for SNI '" + hs->sni + "'";
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_CLIENT_HELLO_ERROR;
  }
  SSL_CTX* ctx = hs->contexts->context_for(*hs->snapshot, *chosen, hs->error);
  if (!ctx) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  SSL_set_SSL_CTX(ssl, ctx);
  // SSL_set_SSL_CTX carries the certificate over, not versions or verify settings.
  SSL_set_min_proto_version(ssl, SSL_CTX_get_min_proto_version(ctx));
  SSL_set_max_proto_version(ssl, SSL_CTX_get_max_proto_version(ctx));
  SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx), nullptr);
  if (chosen->tls == config::GatewayTls::kMutual) SSL_set1_verify_cert_store(ssl, SSL_CTX_get_cert_store(ctx));
  hs->chosen = chosen;
  return SSL_CLIENT_HELLO_SUCCESS;
}

// ALPN as Istio's Gateways answer it: h2 when the client offers it, else
// http/1.1; a client that offers neither gets no ALPN and speaks HTTP/1.1.
int on_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen, void*) {
  static constexpr unsigned char kServerProtocols[] = "\x02h2\x08http/1.1";
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, kServerProtocols, sizeof kServerProtocols - 1, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

SSL_CTX* new_server_ctx() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return nullptr;
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);  // Istio's default minimum for servers
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  // On every context: the hello context answers the handshake, a server's
  // own context once the ClientHello callback switched to it.
  SSL_CTX_set_alpn_select_cb(ctx, on_alpn, nullptr);
  return ctx;
}

}  // namespace

int tls_version_of(const std::string& name) {
  if (name == "TLSV1_0") return TLS1_VERSION;
  if (name == "TLSV1_1") return TLS1_1_VERSION;
  if (name == "TLSV1_2") return TLS1_2_VERSION;
  if (name == "TLSV1_3") return TLS1_3_VERSION;
  return 0;
}

TlsCredential find_tls_credential(const config::MeshSnapshot& snap, const std::string& ns, const std::string& name,
                                  bool need_ca, std::string& error) {
  TlsCredential c;
  const k8s::Secret* s = snap.find_secret(ns, name);
  if (!s) {
    error = "credentialName " + ns + "/" + name + ": no such Secret";
    return {};
  }
  if (!secret_value(*s, "tls.crt", c.cert_chain) || !secret_value(*s, "tls.key", c.private_key)) {
    error = "Secret " + ns + "/" + name + ": needs tls.crt and tls.key (kubernetes.io/tls)";
    return {};
  }
  if (need_ca && !secret_value(*s, "ca.crt", c.ca)) {
    const k8s::Secret* ca = snap.find_secret(ns, name + "-cacert");
    if (!ca || !(secret_value(*ca, "ca.crt", c.ca) || secret_value(*ca, "cacert", c.ca))) {
      error = "Secret " + ns + "/" + name + ": MUTUAL needs ca.crt (or a Secret " + name + "-cacert)";
      return {};
    }
  }
  return c;
}

TlsContexts::TlsContexts() {
  hello_ = new_server_ctx();
  if (hello_) SSL_CTX_set_client_hello_cb(hello_, on_client_hello, nullptr);
}

TlsContexts::~TlsContexts() {
  for (auto& [key, ctx] : by_key_) SSL_CTX_free(ctx);
  if (hello_) SSL_CTX_free(hello_);
}

SSL_CTX* TlsContexts::context_for(const config::MeshSnapshot& snap, const config::GatewayServer& server,
                                  std::string& error) {
  const bool mutual = server.tls == config::GatewayTls::kMutual;
  TlsCredential cred = find_tls_credential(snap, server.ns, server.credential_name, mutual, error);
  if (cred.cert_chain.empty()) return nullptr;
  const std::string key = std::to_string(std::hash<std::string>{}(cred.cert_chain + cred.private_key + cred.ca)) + "|" +
                          server.min_protocol + "|" + server.max_protocol + (mutual ? "|m" : "|s");
  if (auto it = by_key_.find(key); it != by_key_.end()) return it->second;
  if (by_key_.size() >= kMaxContexts) {
    // Old credentials: contexts in use stay alive through their SSL objects' references.
    for (auto& [k, ctx] : by_key_) SSL_CTX_free(ctx);
    by_key_.clear();
  }

  SSL_CTX* ctx = new_server_ctx();
  auto fail = [&](const std::string& what) -> SSL_CTX* {
    error = "credentialName " + server.ns + "/" + server.credential_name + ": " + what + ": " + openssl_error();
    SSL_CTX_free(ctx);
    return nullptr;
  };
  if (!ctx) return fail("SSL_CTX_new");
  BIO* bio = BIO_new_mem_buf(cred.cert_chain.data(), static_cast<int>(cred.cert_chain.size()));
  X509* leaf = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  bool ok = leaf && SSL_CTX_use_certificate(ctx, leaf) == 1;
  X509_free(leaf);
  while (ok) {
    X509* extra = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    if (!extra) break;
    if (SSL_CTX_add_extra_chain_cert(ctx, extra) != 1) {  // takes ownership on success
      X509_free(extra);
      ok = false;
    }
  }
  ERR_clear_error();  // the end of the PEM chain reads as an error
  BIO_free(bio);
  if (!ok) return fail("tls.crt");
  bio = BIO_new_mem_buf(cred.private_key.data(), static_cast<int>(cred.private_key.size()));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ok = pkey && SSL_CTX_use_PrivateKey(ctx, pkey) == 1 && SSL_CTX_check_private_key(ctx) == 1;
  EVP_PKEY_free(pkey);
  if (!ok) return fail("tls.key");
  if (int v = tls_version_of(server.min_protocol)) SSL_CTX_set_min_proto_version(ctx, v);
  if (int v = tls_version_of(server.max_protocol)) SSL_CTX_set_max_proto_version(ctx, v);
  if (mutual) {
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    bio = BIO_new_mem_buf(cred.ca.data(), static_cast<int>(cred.ca.size()));
    int added = 0;
    while (X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      if (X509_STORE_add_cert(store, ca) == 1) ++added;
      X509_free(ca);
    }
    ERR_clear_error();
    BIO_free(bio);
    if (added == 0) return fail("ca.crt has no certificate");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  by_key_.emplace(key, ctx);
  return ctx;
}

}  // namespace sluice::proxy
