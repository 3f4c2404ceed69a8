// Who is at the other end of a downstream connection, and how it came: mesh
// traffic by the kernel's redirect (with the destination the client dialled),
// or gateway traffic on a server port (plain, TLS-terminated or passthrough).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway_servers.h"
#include "original_destination.h"

namespace sluice::proxy {

using GatewayServerMap = std::map<uint16_t, std::vector<config::GatewayServer>>;

struct Downstream {
  uint32_t peer_ip = 0;
  std::string address;                     // "ip:port", for the access log
  std::optional<OriginalDestination> dst;  // mesh traffic: what the client dialled
  uint16_t gateway_port = 0;               // gateway traffic: the server port
  // HTTPS: the gateway servers in force at the handshake, and the one SNI chose.
  std::shared_ptr<const GatewayServerMap> gateway_servers;
  const config::GatewayServer* tls_server = nullptr;
};

}  // namespace sluice::proxy
