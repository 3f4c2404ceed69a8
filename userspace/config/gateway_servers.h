// The Gateway servers this node serves: the `servers` of every Gateway whose
// `selector` matches the node's gateway labels, by port, with the fields the
// ingress needs (hosts, TLS mode, credential, httpsRedirect, TLS versions).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "mesh_snapshot.h"

namespace sluice::config {

// kPassthrough: TLS is not terminated; the SNI routes the connection.
enum class GatewayTls { kNone, kSimple, kMutual, kPassthrough };

struct GatewayServer {
  std::string gateway;  // "namespace/name"
  std::string ns;       // the Gateway's namespace, where credentialName is looked up
  uint16_t port = 0;
  std::string protocol;  // HTTP, HTTPS, ... (upper case)
  // hosts as [namespace/]dnsName; the namespace part ("*" or "." or a name)
  // restricts which VirtualServices may bind, the dnsName what clients ask for.
  std::vector<std::string> dns_names;
  std::vector<std::string> host_namespaces;  // per dns_names entry: "*" or a namespace
  bool https_redirect = false;
  GatewayTls tls = GatewayTls::kNone;
  std::string credential_name;
  std::string min_protocol;  // TLSV1_0..TLSV1_3 or TLS_AUTO (empty: auto)
  std::string max_protocol;
};

// Servers by port. A Gateway with an empty selector selects every gateway
// workload, as in Istio.
std::map<uint16_t, std::vector<GatewayServer>> select_gateway_servers(const MeshSnapshot& snapshot,
                                                                      const std::map<std::string, std::string>& labels);

// Whether a client's host name (Host header without the port, or SNI)
// matches one of the server's hosts: "*", "*.example.com" (any subdomain)
// or an exact name, case-insensitively.
bool gateway_server_matches(const GatewayServer& server, std::string_view host);

// Whether a VirtualService in `vs_namespace` may serve `host` through this
// server: some host entry matching `host` names that namespace, or "*".
bool gateway_server_allows(const GatewayServer& server, std::string_view host, std::string_view vs_namespace);

// Which servers of a port a lookup considers: plain HTTP ones (Host header),
// TLS-terminating ones (SNI) or PASSTHROUGH ones (SNI).
enum class ServerKind { kPlain, kTls, kPassthrough };

// The server of that kind on a port for a host: the exact-name match first,
// then the longest wildcard; nullptr if none.
const GatewayServer* find_gateway_server(const std::vector<GatewayServer>& servers, std::string_view host,
                                         ServerKind kind);

// "Host: example.com:8443" -> "example.com"; lower case.
std::string host_without_port(std::string_view host);

}  // namespace sluice::config
