// The daemon's reload step: reload the config (config_reloader.h), which
// publishes the new snapshot with one atomic pointer swap, then bring the
// kernel's L4 tables to it by writing only what changed (l4_table_sync.h).
// A bad resource changes nothing: it is rejected alone and its last good
// version (and the kernel state built from it) stays in force.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config_reloader.h"
#include "datapath_maps.h"
#include "l4_table_sync.h"
#include "mesh_snapshot.h"

namespace sluice::daemon {

// Both halves, read together by the admin API's /config.
struct ConfigStatus : config::ReloadStatus, L4SyncStatus {};

class ConfigSync {
 public:
  ConfigSync(std::unique_ptr<config::ConfigSource> source, DatapathMaps& maps)
      : reloader_(std::move(source)), tables_(maps) {}
  ConfigSync(std::vector<std::string> paths, DatapathMaps& maps) : reloader_(std::move(paths)), tables_(maps) {}

  // Starts from what the kernel holds (pinned by an earlier run), so the
  // first reload rewrites only what differs from the config.
  void adopt_kernel_state() { tables_.adopt_kernel_state(); }

  // One reload. Returns true if a new snapshot is in force.
  bool reload();
  // DNS answers for the builds from now on (config::ResolvedHosts).
  void set_resolved_hosts(std::shared_ptr<const config::ResolvedHosts> hosts) {
    reloader_.set_resolved_hosts(std::move(hosts));
  }

  // Lock-free for readers on the request path.
  config::SnapshotPtr current() const { return reloader_.current(); }

  ConfigStatus status() const;

 private:
  config::ConfigReloader reloader_;
  L4TableSync tables_;
  // The snapshot the kernel tables were last brought to; the one it replaces
  // is freed after the new one is in force and timed.
  config::SnapshotPtr synced_;

  mutable std::mutex status_mu_;
  ConfigStatus status_;
};

}  // namespace sluice::daemon
