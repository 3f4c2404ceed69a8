// For e2e tests that run sluiced in a simulated node: polling until a
// condition holds, and the daemon's admin API reached from inside the node.
#pragma once

#include <chrono>
#include <string>
#include <thread>
#include <utility>

#include "admin_client.h"
#include "node_sim.h"

namespace sluice::test {

// True as soon as pred() is; false if it still is not after limit.
template <class Pred>
bool wait_for(Pred pred, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

// GET path from the admin API on 127.0.0.1:port of the node's netns:
// {status, body}, or {0, the error} when it could not be reached.
inline std::pair<unsigned, std::string> admin_get(NodeSim& node, uint16_t port, const std::string& path) {
  return node.in_node([&] {
    auto r = sluice::http_get("127.0.0.1", port, path, std::chrono::milliseconds(1000));
    return r.ok() ? r.value() : std::pair<unsigned, std::string>{0, r.error().to_string()};
  });
}

}  // namespace sluice::test
