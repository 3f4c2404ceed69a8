#include "config_sync.h"

#include <malloc.h>
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
  const auto written = std::chrono::steady_clock::now();
  // The change is in the kernel. Then the snapshot replaced is freed: at
  // 100k Pods that drops a reference on every resource, milliseconds of
  // cache misses that the kernel write need not wait for.
  config::SnapshotPtr replaced = std::exchange(synced_, snap);
  // A full build leaves the old snapshot's memory free but mapped: at 100k
  // Pods tens of MB, scattered between live objects where only a trim
  // gives the pages back. A patched build frees too little to bother, and
  // trimming then would make the next patch fault its pages in again.
  replaced.reset();
  if (!reloader_.status().last_patched) malloc_trim(0);
  spdlog::info("config version {} in force: {} L4 services, {} changed, {} removed, synced in {:.2f} ms",
               snap->version, r.services, r.stats.upserts, r.stats.removals, r.ms);

  std::lock_guard lock(status_mu_);
  static_cast<config::ReloadStatus&>(status_) = reloader_.status();
  status_.sync_failures += r.stats.failures;
  status_.last_sync = r.stats;
  status_.last_sync_ms = r.ms;
  status_.l4_services = r.services;
  status_.last_reload_ms = std::chrono::duration<double, std::milli>(written - start).count();
  status_.last_release_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - written).count();
  return true;
}

ConfigStatus ConfigSync::status() const {
  std::lock_guard lock(status_mu_);
  return status_;
}

}  // namespace sluice::daemon
