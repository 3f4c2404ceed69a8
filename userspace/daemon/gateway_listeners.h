// Gateway listeners follow the config: the proxy listens on one port per
// port of the servers of the Gateways that select this node's gateway
// workload (docs/gateway.md). A port that cannot be bound yet (another
// process holds it) is retried, and readiness waits for it.
#pragma once

#include <map>
#include <mutex>
#include <set>
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
  // Opens the wanted ports that are not open yet (the main loop's tick).
  void retry();
  // The ports the config asks for; any thread.
  std::set<uint16_t> wanted() const;

 private:
  void open(const std::set<uint16_t>& ports, bool first_try);

  proxy::ProxyServer& proxy_;
  std::map<std::string, std::string> labels_;
  mutable std::mutex mu_;
  std::set<uint16_t> wanted_;
};

}  // namespace sluice::daemon
