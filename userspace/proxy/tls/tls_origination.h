// TLS origination (DestinationRule trafficPolicy.tls SIMPLE or MUTUAL): the
// client-side OpenSSL context of each distinct setting, built once and
// shared by every worker and every snapshot that asks for the same one, so
// a connection only creates its SSL object. docs/egress.md, "TLS
// origination".
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "traffic_policy.h"

namespace sluice::proxy {

struct OriginationContext {
  // Never reused: upstream pools key idle connections on it, so plain and
  // TLS connections (or two TLS settings) to one endpoint never mix.
  uint64_t id = 0;
  std::string sni;
  bool send_sni = true;  // not for an IP address (RFC 6066); it is still checked
  // Set when the settings cannot be used (a CA file that does not load...):
  // every attempt then fails with it, as a connect failure (503 UF).
  std::string error;
  // Mutable: each connection's SSL object takes a reference (thread-safe in
  // OpenSSL); the settings themselves never change after build.
  mutable boost::asio::ssl::context ctx{boost::asio::ssl::context::tls_client};
};

class OriginationContexts {
 public:
  // The context of `policy` toward the service `host` (the SNI and the name
  // checked when the policy gives none); null when the policy does not
  // originate TLS. Thread-safe; called once per destination and snapshot
  // by each worker, not per request.
  std::shared_ptr<const OriginationContext> get(const config::ClientTlsPolicy& policy, const std::string& host);

 private:
  std::mutex mu_;
  // By the settings' text; weak, so a setting no snapshot uses any more is
  // freed with its last connection.
  std::map<std::string, std::weak_ptr<const OriginationContext>> by_settings_;
  std::atomic<uint64_t> next_id_{1};
};

// Why a handshake failed, for the access log (Envoy's
// upstream_transport_failure_reason): "TLS_error: certificate verify failed:
// unable to get local issuer certificate".
std::string tls_failure_reason(const SSL* ssl, const boost::system::error_code& ec);

// ALPN's wire form of one protocol name: its length byte, then the name.
std::string alpn_wire(std::string_view protocol);

// Why a connection that offered `offered` in ALPN must not go on, given what
// the server `selected` ("" for nothing: a server without ALPN, or one that
// ignored it); "" when it selected the protocol, or none was offered.
std::string alpn_refusal(std::string_view offered, std::string_view selected);

// What the server of a completed handshake selected in ALPN ("" for none).
std::string_view alpn_selected(const SSL* ssl);

}  // namespace sluice::proxy
