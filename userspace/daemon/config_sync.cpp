#include "config_sync.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <utility>

namespace sluice::daemon {

bool ConfigSync::reload() {
  const auto start = std::chrono::steady_clock::now();
  if (!reloader_.reload()) {
    std::lock_guard lock(status_mu_);
    static_cast<config::ReloadStatus&>(status_) = reloader_.status();
    return false;
  }
  config::SnapshotPtr snap = reloader_.current();
  const L4TableSync::Result r = tables_.apply(*snap);
  config::SnapshotPtr replaced = std::exchange(synced_, snap);
  spdlog::info("config version {} in force: {} L4 services, {} changed, {} removed, synced in {:.2f} ms",
               snap->version, r.services, r.stats.upserts, r.stats.removals, r.ms);

  std::lock_guard lock(status_mu_);
  static_cast<config::ReloadStatus&>(status_) = reloader_.status();
  status_.sync_failures += r.stats.failures;
  status_.last_sync = r.stats;
  status_.last_sync_ms = r.ms;
  status_.l4_services = r.services;
  status_.last_reload_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return true;
}

ConfigStatus ConfigSync::status() const {
  std::lock_guard lock(status_mu_);
  return status_;
}

}  // namespace sluice::daemon
