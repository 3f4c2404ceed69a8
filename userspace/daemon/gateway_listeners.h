// Gateway listeners follow the config: the proxy listens on one port per
// port of the servers of the Gateways that select this node's gateway
// workload (docs/gateway.md).
#pragma once

#include <map>
#include <string>

#include "mesh_snapshot.h"
#include "proxy_server.h"

namespace sluice::daemon {

class GatewayListeners {
 public:
  GatewayListeners(proxy::ProxyServer& proxy, std::map<std::string, std::string> labels)
      : proxy_(proxy), labels_(std::move(labels)) {}

  // Opens and closes listeners to match the snapshot; nothing if they do.
  void follow(const config::MeshSnapshot& snap);

 private:
  proxy::ProxyServer& proxy_;
  std::map<std::string, std::string> labels_;
};

}  // namespace sluice::daemon
