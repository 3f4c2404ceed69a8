#include "gateway_listeners.h"

#include <spdlog/spdlog.h>

#include "gateway_servers.h"

namespace sluice::daemon {

void GatewayListeners::follow(const config::MeshSnapshot& snap) {
  std::set<uint16_t> ports;
  for (const auto& [port, servers] : config::select_gateway_servers(snap, labels_)) ports.insert(port);
  {
    std::lock_guard lock(mu_);
    wanted_ = ports;
  }
  if (ports == proxy_.gateway_ports()) return;
  open(ports, true);
}

void GatewayListeners::retry() {
  const std::set<uint16_t> ports = wanted();
  if (ports != proxy_.gateway_ports()) open(ports, false);
}

std::set<uint16_t> GatewayListeners::wanted() const {
  std::lock_guard lock(mu_);
  return wanted_;
}

void GatewayListeners::open(const std::set<uint16_t>& ports, bool first_try) {
  const size_t before = proxy_.gateway_ports().size();
  if (Status s = proxy_.set_gateway_ports(ports); !s) {
    // Every second while the port stays taken: the first failure is the error.
    if (first_try) spdlog::error("{} (retried every second; /ready waits for it)", s.error().to_string());
    else spdlog::debug("{}", s.error().to_string());
  }
  const size_t after = proxy_.gateway_ports().size();
  if (!ports.empty() && (first_try || after != before)) spdlog::info("gateway listening on {} port(s)", after);
}

}  // namespace sluice::daemon
