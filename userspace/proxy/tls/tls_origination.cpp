#include "tls_origination.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

namespace sluice::proxy {

namespace {

std::string openssl_error(const std::string& what) {
  const unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return what + ": " + buf;
}

bool is_ip(const std::string& s) {
  in_addr a4{};
  in6_addr a6{};
  return inet_pton(AF_INET, s.c_str(), &a4) == 1 || inet_pton(AF_INET6, s.c_str(), &a6) == 1;
}

// The names the server's certificate must carry: subjectAltNames, any of
// them, else the SNI name (Istio verifies against the SNI when no SANs
// are given). An IP is checked against the certificate's IP SANs.
std::string expect_names(SSL_CTX* ctx, const config::ClientTlsPolicy& p, const std::string& sni) {
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  const std::vector<std::string> names = p.subject_alt_names.empty() ? std::vector<std::string>{sni} : p.subject_alt_names;
  bool first_host = true;
  for (const std::string& n : names) {
    if (is_ip(n)) {
      // OpenSSL checks one IP; several IP SANs fall back to the first.
      if (X509_VERIFY_PARAM_set1_ip_asc(param, n.c_str()) != 1) return "subjectAltNames: " + n + " is not an IP address";
      continue;
    }
    const int ok = first_host ? X509_VERIFY_PARAM_set1_host(param, n.c_str(), n.size())
                              : X509_VERIFY_PARAM_add1_host(param, n.c_str(), n.size());
    if (ok != 1) return "subjectAltNames: cannot check " + n;
    first_host = false;
  }
  return "";
}

std::shared_ptr<OriginationContext> build(const config::ClientTlsPolicy& p, const std::string& host, uint64_t id) {
  auto c = std::make_shared<OriginationContext>();
  c->id = id;
  c->sni = p.sni.empty() ? host : p.sni;
  c->send_sni = !is_ip(c->sni);
  SSL_CTX* ctx = c->ctx.native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (p.insecure_skip_verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    const bool loaded = p.ca_certificates.empty()
                            ? SSL_CTX_set_default_verify_paths(ctx) == 1
                            : SSL_CTX_load_verify_locations(ctx, p.ca_certificates.c_str(), nullptr) == 1;
    if (!loaded) {
      c->error = openssl_error("caCertificates " + (p.ca_certificates.empty() ? "(system bundle)" : p.ca_certificates));
      return c;
    }
    if (std::string e = expect_names(ctx, p, c->sni); !e.empty()) {
      c->error = e;
      return c;
    }
  }
  if (p.mode == istio::networking::ClientTLSSettings::MUTUAL) {
    if (SSL_CTX_use_certificate_chain_file(ctx, p.client_certificate.c_str()) != 1) {
      c->error = openssl_error("clientCertificate " + p.client_certificate);
    } else if (SSL_CTX_use_PrivateKey_file(ctx, p.private_key.c_str(), SSL_FILETYPE_PEM) != 1) {
      c->error = openssl_error("privateKey " + p.private_key);
    }
  }
  return c;
}

std::string settings_key(const config::ClientTlsPolicy& p, const std::string& host) {
  std::string k = std::to_string(p.mode) + '\0' + host + '\0' + p.sni + '\0' + p.ca_certificates + '\0' +
                  p.client_certificate + '\0' + p.private_key + '\0' + (p.insecure_skip_verify ? "1" : "0");
  for (const std::string& s : p.subject_alt_names) k += '\0' + s;
  return k;
}

}  // namespace

std::shared_ptr<const OriginationContext> OriginationContexts::get(const config::ClientTlsPolicy& policy,
                                                                   const std::string& host) {
  if (!policy.originates()) return nullptr;
  const std::string key = settings_key(policy, host);
  std::lock_guard lock(mu_);
  if (auto it = by_settings_.find(key); it != by_settings_.end()) {
    if (auto live = it->second.lock()) return live;
  }
  std::erase_if(by_settings_, [](const auto& kv) { return kv.second.expired(); });
  std::shared_ptr<OriginationContext> c = build(policy, host, next_id_++);
  if (!c->error.empty()) spdlog::warn("TLS origination to {}: {}: its requests fail with 503 UF", host, c->error);
  by_settings_[key] = c;
  return c;
}

std::string tls_failure_reason(const SSL* ssl, const boost::system::error_code& ec) {
  std::string r = "TLS_error: " + ec.message();
  if (ssl) {
    const long v = SSL_get_verify_result(ssl);
    if (v != X509_V_OK) r += std::string(": ") + X509_verify_cert_error_string(v);
  }
  return r;
}

std::string alpn_wire(std::string_view protocol) {
  std::string w(1, static_cast<char>(protocol.size()));
  w += protocol;
  return w;
}

std::string alpn_refusal(std::string_view offered, std::string_view selected) {
  if (offered.empty() || selected == offered) return "";
  // A server that did not select the protocol may not speak it: its bytes
  // must not go on such a connection (RFC 7301: the client may end it).
  return "TLS_error: ALPN: the server did not select " + std::string(offered) + " (it selected " +
         (selected.empty() ? std::string("none") : std::string(selected)) + ")";
}

std::string_view alpn_selected(const SSL* ssl) {
  const unsigned char* data = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl, &data, &len);
  return data ? std::string_view(reinterpret_cast<const char*>(data), len) : std::string_view();
}

}  // namespace sluice::proxy
