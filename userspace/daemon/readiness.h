// Whether sluiced is ready, and if not, what it is waiting for. Pure: the
// daemon gathers the facts (readiness_facts in node_daemon.cpp), this decides,
// so the rules are tested without a kernel (test/unit/readiness_test.cpp).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace sluice::daemon {

struct ReadinessFacts {
  bool programs_attached = false;
  bool config_applied = false;  // the first config is in force
  bool proxy_enabled = false;   // --node-ip and --proxy-port: an L7 proxy runs
  uint16_t proxy_port = 0;
  bool proxy_accepting = false;   // every worker accepts on the mesh listener
  bool proxy_registered = false;  // the kernel's sl_proxy_lsn holds it: HTTP ports are redirected
  std::set<uint16_t> gateway_wanted;     // by the config
  std::set<uint16_t> gateway_accepting;  // by every worker
  bool draining = false;
  bool handing_over = false;  // a successor has our listeners (docs/operations.md "Upgrades")
};

struct Readiness {
  bool ready = false;
  // Each thing not there yet, in start order, as a short sentence.
  std::vector<std::string> waiting_for;
};

Readiness assess_readiness(const ReadinessFacts& f);

}  // namespace sluice::daemon
