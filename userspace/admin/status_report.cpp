#include "status_report.h"

#include <chrono>

#include "admin_client.h"
#include "ip_text.h"

namespace sluice {

Result<std::string> read_admin_view(const std::string& admin, const std::string& target) {
  uint32_t addr = 0;
  uint16_t port = 0;
  if (!parse_ip_port(admin, addr, port)) return make_error(-EINVAL, "expected --admin ip:port, got " + admin);
  auto r = http_get(format_ip(addr), port, target, std::chrono::seconds(5));
  if (!r) return make_error(0, "sluiced at " + admin + " is not reachable: " + r.error().to_string());
  if (r->first != 200) return make_error(0, "sluiced at " + admin + " answered " + target + " with " + std::to_string(r->first) + ": " + r->second);
  return std::move(r->second);
}

Result<StatusReport> read_status(const std::string& admin) {
  uint32_t addr = 0;
  uint16_t port = 0;
  if (!parse_ip_port(admin, addr, port)) return make_error(-EINVAL, "expected --admin ip:port, got " + admin);
  const std::string host = format_ip(addr);
  auto ready = http_get(host, port, "/ready", std::chrono::seconds(2));
  if (!ready) return make_error(0, "sluiced at " + admin + " is not reachable: " + ready.error().to_string());
  StatusReport report;
  report.ready = ready->first == 200;
  auto cfg = http_get(host, port, "/config", std::chrono::seconds(2));
  if (!cfg) return cfg.error();
  report.config = cfg->second;
  // Optional parts: shown when the daemon runs them.
  for (const char* view : {"/redirect", "/xdp"}) {
    auto r = http_get(host, port, view, std::chrono::seconds(2));
    if (r && r->first == 200) report.views.emplace_back(view + 1, r->second);
  }
  return report;
}

}  // namespace sluice
