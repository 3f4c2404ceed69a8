#include "gateway_listeners.h"

#include <spdlog/spdlog.h>

#include <set>

#include "gateway_servers.h"

namespace sluice::daemon {

void GatewayListeners::follow(const config::MeshSnapshot& snap) {
  std::set<uint16_t> ports;
  for (const auto& [port, servers] : config::select_gateway_servers(snap, labels_)) ports.insert(port);
  if (ports == proxy_.gateway_ports()) return;
  if (Status s = proxy_.set_gateway_ports(ports); !s) spdlog::error("{}", s.error().to_string());
  if (!ports.empty()) spdlog::info("gateway listening on {} port(s)", proxy_.gateway_ports().size());
}

}  // namespace sluice::daemon
