#include "readiness.h"

namespace sluice::daemon {

Readiness assess_readiness(const ReadinessFacts& f) {
  Readiness r;
  auto wait = [&](bool met, std::string what) {
    if (!met) r.waiting_for.push_back(std::move(what));
  };
  // A draining daemon is on its way out: nothing else matters, and a load
  // balancer should stop sending at once.
  if (f.draining) {
    r.waiting_for.push_back("nothing: draining before exit");
    return r;
  }
  // Likewise once a successor has the listeners: it answers for the node.
  if (f.handing_over) {
    r.waiting_for.push_back("nothing: handing over to a successor");
    return r;
  }
  wait(f.programs_attached, "the kernel programs to be attached");
  wait(f.config_applied, "the first config to be applied");
  if (f.proxy_enabled) {
    const std::string port = std::to_string(f.proxy_port);
    wait(f.proxy_accepting, "the proxy listener on port " + port + " to accept");
    wait(f.proxy_registered, "the kernel to redirect HTTP ports to the proxy on port " + port);
    for (uint16_t p : f.gateway_wanted) {
      wait(f.gateway_accepting.count(p) > 0, "the gateway listener on port " + std::to_string(p) + " to accept");
    }
  }
  r.ready = r.waiting_for.empty();
  return r;
}

}  // namespace sluice::daemon
