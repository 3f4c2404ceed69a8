// Gateway on its own, and the server TLS settings that Sidecar shares:
// istio/istio pkg/config/validation (ValidateGateway, validateServer,
// validateTLSOptions, agent.ValidateNamespaceSlashWildcardHostname).
#include <map>
#include <set>

#include "resource_checks.h"

namespace sluice::config {

namespace net = istio::networking;

namespace {

using Tls = net::ServerTLSSettings;

// The cipher suites Envoy (BoringSSL) knows (security.ValidCipherSuites).
bool valid_cipher_suite(const std::string& cs) {
  static const std::set<std::string> kSuites = {
      "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",   "ECDHE-ECDSA-AES256-GCM-SHA384",
      "ECDHE-RSA-AES256-GCM-SHA384",   "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
      "ECDHE-ECDSA-AES128-SHA",        "ECDHE-RSA-AES128-SHA",          "ECDHE-ECDSA-AES256-SHA",
      "ECDHE-RSA-AES256-SHA",          "AES128-GCM-SHA256",             "AES256-GCM-SHA384",
      "AES128-SHA",                    "AES256-SHA",                    "DES-CBC3-SHA"};
  if (cs.empty() || cs == "ALL") return true;
  // Expressions such as "-AES128-SHA" or "+..." are passed on unchecked.
  if (!std::isalnum(static_cast<unsigned char>(cs.front()))) return true;
  return kSuites.count(cs) > 0;
}

std::string join(const std::set<std::string>& s) {
  std::string out;
  for (const std::string& x : s) out += (out.empty() ? "" : " ") + x;
  return "[" + out + "]";
}

// validateSidecarOrGatewayHostnamePart.
void hostname_part(ResourceChecker& c, const std::string& path, const std::string& host, bool gateway) {
  if (host != "*" && host.find('.') == std::string::npos) c.error(path, "short names (non FQDN) are not allowed");
  if (Problem err = check_wildcard_domain(host)) {
    // A Gateway may also name an IP.
    if (!gateway || !is_ip_address(host)) c.error(path, *err);
  }
  c.error_if(path, check_partial_wildcard(host));
}

// validateServerPort and validateServerBind; false if the port is unusable.
bool server_port(ResourceChecker& c, const std::string& p, const net::Server& s) {
  if (!s.has_port()) {
    c.error(p + ".port", "port is required");
    return false;
  }
  bool ok = true;
  const net::Port& port = s.port();
  const bool unix_bind = s.bind().starts_with(kUnixAddressPrefix);
  if (!is_known_protocol(port.protocol())) {
    c.error(p + ".port.protocol", "invalid protocol \"" + port.protocol() +
                                      "\", supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP");
    ok = false;
  }
  if (port.number() > 0 || !unix_bind) {
    if (port.number() < 1 || port.number() > 65535) {
      c.port(p + ".port.number", port.number());
      ok = false;
    }
  }
  if (port.target_port() > 0) {
    c.error(p + ".port.targetPort", "targetPort has no impact on Gateways");
    ok = false;
  }
  if (port.name().empty()) {
    c.error(p + ".port.name", "port name must be set");
    ok = false;
  }
  if (unix_bind) {
    c.error_if(p + ".bind", check_unix_address(std::string_view(s.bind()).substr(kUnixAddressPrefix.size())));
    if (port.number() != 0) c.error(p + ".port.number", "port number must be 0 for unix domain socket");
  } else if (!s.bind().empty()) {
    c.error_if(p + ".bind", check_ip_address(s.bind()));
  }
  return ok;
}

}  // namespace

void check_namespace_slash_host(ResourceChecker& c, const std::string& path, const std::string& host, bool gateway) {
  const size_t slash = host.find('/');
  if (slash == std::string::npos) {
    if (gateway) {
      hostname_part(c, path, host, true);  // the old form, without a namespace
    } else {
      c.error(path, "host must be of form namespace/dnsName");
    }
    return;
  }
  const std::string ns = host.substr(0, slash), name = host.substr(slash + 1);
  if (ns.empty() || name.empty()) c.error(path, "config namespace and dnsName in host entry cannot be empty");
  const bool special = ns == "*" || ns == "." || (!gateway && ns == "~");
  if (!special && !is_dns1123_label(ns)) {
    c.error(path, "invalid namespace value \"" + ns + "\" in " + (gateway ? "gateway" : "sidecar"));
  }
  hostname_part(c, path, name, gateway);
}

void check_server_tls(ResourceChecker& c, const std::string& p, const Tls& tls) {
  if ((tls.min_protocol_version() == Tls::TLSV1_0 || tls.min_protocol_version() == Tls::TLSV1_1) &&
      tls.cipher_suites_size() == 0) {
    c.warning(p + ".minProtocolVersion", "TLS version below TLSV1_2 require setting compatible ciphers as by default "
                                         "they no longer include compatible ciphers.");
  }
  std::set<std::string> invalid, valid, duplicate;
  for (const std::string& cs : tls.cipher_suites()) {
    if (!valid_cipher_suite(cs)) {
      invalid.insert(cs);
    } else if (!valid.insert(cs).second) {
      duplicate.insert(cs);
    }
  }
  if (!invalid.empty()) c.warning(p + ".cipherSuites", "ignoring invalid cipher suites: " + join(invalid));
  if (!duplicate.empty()) c.warning(p + ".cipherSuites", "ignoring duplicate cipher suites: " + join(duplicate));

  const bool credential = !tls.credential_name().empty() || tls.credential_names_size() > 0;
  if (tls.mode() == Tls::ISTIO_MUTUAL) {
    // The workload certificates are used: nothing else may be named.
    if (!tls.server_certificate().empty()) c.error(p, "ISTIO_MUTUAL TLS cannot have associated server certificate");
    if (!tls.private_key().empty()) c.error(p, "ISTIO_MUTUAL TLS cannot have associated private key");
    if (!tls.ca_certificates().empty()) c.error(p, "ISTIO_MUTUAL TLS cannot have associated CA bundle");
    if (tls.tls_certificates_size() > 0) c.error(p, "ISTIO_MUTUAL TLS cannot have associated tlsCertificates");
    if (!tls.credential_name().empty()) c.error(p, "ISTIO_MUTUAL TLS cannot have associated credentialName");
    if (tls.credential_names_size() > 0) c.error(p, "ISTIO_MUTUAL TLS cannot have associated credentialNames");
    return;
  }
  if ((tls.mode() == Tls::PASSTHROUGH || tls.mode() == Tls::AUTO_PASSTHROUGH) &&
      (!tls.ca_crl().empty() || !tls.server_certificate().empty() || !tls.private_key().empty() ||
       !tls.ca_certificates().empty() || tls.tls_certificates_size() > 0 || credential)) {
    c.warning(p, Tls::TLSmode_Name(tls.mode()) + " mode does not use certificates, they will be ignored");
  }
  const int sources = (!tls.server_certificate().empty() && !tls.private_key().empty()) + !tls.credential_name().empty() +
                      (tls.credential_names_size() > 0) + (tls.tls_certificates_size() > 0);
  if (sources > 1) {
    c.error(p, "only one of credential_name, credential_names, server_certificate/private_key, tls_certificates should be specified");
  }
  const bool terminates = tls.mode() == Tls::SIMPLE || tls.mode() == Tls::MUTUAL || tls.mode() == Tls::OPTIONAL_MUTUAL;
  if (terminates && credential) return;  // the certificates come from the Secret
  if (terminates) {
    const std::string prefix = tls.mode() == Tls::SIMPLE ? "SIMPLE TLS" : "MUTUAL TLS";
    if (tls.mode() != Tls::SIMPLE && tls.ca_certificates().empty()) c.error(p, prefix + " requires a client CA bundle");
    if (tls.tls_certificates_size() > 2) c.warning(p + ".tlsCertificates", prefix + " can support up to 2 server certificates");
    auto certificate = [&](const std::string& cp, const std::string& cert, const std::string& key) {
      if (cert.empty()) c.error(cp, prefix + " requires a server certificate");
      if (key.empty()) c.error(cp, prefix + " requires a private key");
    };
    if (tls.tls_certificates_size() > 0) {
      for (int i = 0; i < tls.tls_certificates_size(); ++i) {
        certificate(idx(p + ".tlsCertificates", i), tls.tls_certificates(i).server_certificate(), tls.tls_certificates(i).private_key());
      }
    } else {
      certificate(p, tls.server_certificate(), tls.private_key());
    }
  }
  if (!tls.ca_crl().empty()) {
    if (!tls.credential_name().empty()) {
      c.error(p + ".caCrl", "CRL is not supported with credentialName. CRL has to be specified in the credential");
    }
    if (tls.mode() == Tls::SIMPLE) c.error(p + ".caCrl", "CRL is not supported with SIMPLE TLS");
  }
}

void check_gateway(ResourceChecker& c, const net::Gateway& gw) {
  if (!is_dns1123_label(c.meta().name)) c.error("metadata.name", "invalid gateway name: \"" + c.meta().name + "\"");
  if (gw.servers_size() == 0) c.error("spec.servers", "gateway must have at least one server");
  std::set<std::string> port_names;
  for (int i = 0; i < gw.servers_size(); ++i) {
    const auto& s = gw.servers(i);
    const std::string p = idx("spec.servers", i);
    if (s.hosts_size() == 0) c.error(p + ".hosts", "server config must contain at least one host");
    for (int h = 0; h < s.hosts_size(); ++h) check_namespace_slash_host(c, idx(p + ".hosts", h), s.hosts(h), true);
    const bool port_ok = server_port(c, p, s);
    if (s.has_tls()) check_server_tls(c, p + ".tls", s.tls());
    if (port_ok) {
      const std::string& protocol = s.port().protocol();
      if (is_tls_protocol(protocol) && !s.has_tls()) {
        c.error(p + ".tls", "server must have TLS settings for HTTPS/TLS protocols");
      } else if (!is_tls_protocol(protocol) && s.has_tls()) {
        const bool passthrough = s.tls().mode() == Tls::PASSTHROUGH || s.tls().mode() == Tls::AUTO_PASSTHROUGH;
        if (!is_http_protocol(protocol)) {
          c.error(p + ".tls", "server cannot have TLS settings for non HTTPS/TLS ports");
        } else if (!passthrough || !s.tls().ca_certificates().empty() || !s.tls().private_key().empty() ||
                   !s.tls().server_certificate().empty()) {
          // Only an httpsRedirect may sit on a plain HTTP port.
          c.error(p + ".tls", "server cannot have TLS settings for plain text HTTP ports");
        }
      }
    }
    if (s.has_port()) {
      if (!port_names.insert(s.port().name()).second) {
        c.error(p + ".port.name", "port names in servers must be unique: duplicate name " + s.port().name());
      }
      if (!is_http_protocol(s.port().protocol()) && s.tls().https_redirect()) {
        c.warning(p + ".tls.httpsRedirect", "tls.httpsRedirect should only be used with http servers");
      }
    }
  }
}

}  // namespace sluice::config
