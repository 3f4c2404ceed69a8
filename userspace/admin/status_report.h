// `sluicectl status`: what a running sluiced says about itself through its
// admin API (readiness, the config status, and the socket-redirection and
// XDP views when it runs them).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "result.h"

namespace sluice {

struct StatusReport {
  bool ready = false;
  std::string config;                                 // /config, JSON
  std::vector<std::pair<std::string, std::string>> views;  // ("redirect", JSON), ("xdp", JSON) when served
};

// `admin` is "ip:port".
Result<StatusReport> read_status(const std::string& admin);

// One JSON view of the admin API (e.g. "/routes?host=reviews"); an error
// unless it answers 200.
Result<std::string> read_admin_view(const std::string& admin, const std::string& target);

}  // namespace sluice
