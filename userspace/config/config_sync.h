// The daemon's reload step: load and validate the config, publish the new
// snapshot with one atomic pointer swap, then bring the kernel tables to it by
// writing only what changed. A bad config changes nothing: the last good
// snapshot (and the kernel state built from it) stays in force.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "datapath_maps.h"
#include "l4_sync.h"
#include "mesh_snapshot.h"
#include "resource_loader.h"
#include "snapshot_builder.h"

namespace sluice::config {

struct ConfigStatus {
  uint64_t version = 0;           // of the snapshot in force; 0 before the first good one
  uint64_t reloads = 0;           // attempts
  uint64_t rejected = 0;          // attempts refused because of errors
  uint64_t sync_failures = 0;     // kernel writes that failed
  std::vector<std::string> last_errors;  // of the last rejected attempt, cleared by a good one
  std::vector<std::string> warnings;     // of the snapshot in force
  SyncStats last_sync;
  double last_load_ms = 0;        // read and parse changed files
  double last_build_ms = 0;       // build and validate the snapshot
  double last_sync_ms = 0;        // diff and write into the kernel
  double last_reload_ms = 0;      // the whole reload
  size_t last_files_parsed = 0;   // files that changed since the reload before
  size_t last_documents_parsed = 0;  // YAML documents in them that changed
  bool last_patched = false;      // the snapshot was patched, not built again (snapshot_patch.h)
  size_t l4_services = 0;
};

class ConfigSync {
 public:
  ConfigSync(std::vector<std::string> paths, DatapathMaps& maps);

  // Starts from what the kernel holds (pinned by an earlier run), so the
  // first reload rewrites only what differs from the config.
  void adopt_kernel_state();

  // One reload. Returns true if a new snapshot is in force.
  bool reload();

  // Lock-free for readers on the request path.
  SnapshotPtr current() const { return current_.load(std::memory_order_acquire); }

  ConfigStatus status() const;

 private:
  std::vector<std::string> paths_;
  DatapathMaps& maps_;
  std::atomic<SnapshotPtr> current_;
  // What the kernel holds: the last synced snapshot's view, or (after a
  // restart, or a failed write) what was read back from the kernel.
  SnapshotPtr synced_;
  L4ServiceMap kernel_view_;
  ResourceCache cache_;       // parsed files, reused while unchanged
  BuildMemo memo_;            // the last build: what a patch starts from, services reused
  uint64_t next_version_ = 1;

  mutable std::mutex status_mu_;
  ConfigStatus status_;
};

}  // namespace sluice::config
