#include "config_sync.h"

#include <spdlog/spdlog.h>

#include "snapshot_builder.h"

namespace sluice::config {

namespace {

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

ConfigSync::ConfigSync(std::vector<std::string> paths, DatapathMaps& maps)
    : paths_(std::move(paths)), maps_(maps) {}

void ConfigSync::adopt_kernel_state() {
  kernel_view_ = read_l4(maps_);
  spdlog::info("adopted {} L4 services from pinned kernel maps", kernel_view_.size());
}

bool ConfigSync::reload() {
  const auto start = std::chrono::steady_clock::now();
  LoadResult loaded = load_resources(paths_, &cache_);
  const size_t files_parsed = loaded.files_parsed;
  const size_t documents_parsed = loaded.documents_parsed;
  const double load_ms = ms_since(start);
  const auto build_start = std::chrono::steady_clock::now();
  BuildResult built = build_snapshot(std::move(loaded), next_version_, &memo_);
  const double build_ms = ms_since(build_start);
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
  for (const Diagnostic& d : built.diagnostics) {
    (d.severity == Severity::kError ? errors : warnings).push_back(d.to_string());
  }
  if (!built.snapshot) {
    for (const std::string& e : errors) spdlog::error("config rejected: {}", e);
    std::lock_guard lock(status_mu_);
    ++status_.reloads;
    ++status_.rejected;
    status_.last_errors = std::move(errors);
    return false;
  }
  for (const std::string& w : warnings) spdlog::warn("{}", w);

  SnapshotPtr snap = std::move(built.snapshot);
  current_.store(snap, std::memory_order_release);
  ++next_version_;

  const auto sync_start = std::chrono::steady_clock::now();
  const L4Diff diff = diff_l4(synced_ ? synced_->l4_services : kernel_view_, snap->l4_services);
  SyncStats stats;
  Status s = apply_l4_diff(maps_, diff, &stats);
  const double sync_ms = ms_since(sync_start);
  // The snapshot this one replaces is freed when this function returns,
  // after the new one is in force and timed.
  SnapshotPtr replaced = std::exchange(synced_, snap);
  if (s.ok()) {
    kernel_view_ = {};
  } else {
    synced_.reset();
    spdlog::error("kernel sync: {} of {} changes failed, first: {}", stats.failures,
                  stats.upserts + stats.removals, s.error().to_string());
    kernel_view_ = read_l4(maps_);  // learn what actually landed; the next reload retries the rest
  }
  spdlog::info("config version {} in force: {} L4 services, {} changed, {} removed, synced in {:.2f} ms",
               snap->version, snap->l4_services.size(), stats.upserts, stats.removals, sync_ms);

  std::lock_guard lock(status_mu_);
  ++status_.reloads;
  status_.version = snap->version;
  status_.sync_failures += stats.failures;
  status_.last_errors.clear();
  status_.warnings = std::move(warnings);
  status_.last_sync = stats;
  status_.last_load_ms = load_ms;
  status_.last_build_ms = build_ms;
  status_.last_sync_ms = sync_ms;
  status_.last_reload_ms = ms_since(start);
  status_.l4_services = snap->l4_services.size();
  status_.last_files_parsed = files_parsed;
  status_.last_documents_parsed = documents_parsed;
  status_.last_patched = built.patched;
  return true;
}

ConfigStatus ConfigSync::status() const {
  std::lock_guard lock(status_mu_);
  return status_;
}

}  // namespace sluice::config
