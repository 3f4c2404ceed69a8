// Brings the socket load balancer's service tables to a snapshot: the L4
// view of the snapshot (l4_view.h), diffed against what the kernel holds, and
// only what changed written.
#pragma once

#include <cstddef>
#include <cstdint>

#include "datapath_maps.h"
#include "l4_sync.h"
#include "l4_view.h"
#include "mesh_snapshot.h"

namespace sluice {

// The kernel side of the config status (/config).
struct L4SyncStatus {
  uint64_t sync_failures = 0;  // kernel writes that failed
  SyncStats last_sync;
  double last_sync_ms = 0;     // view, diff and write into the kernel
  size_t l4_services = 0;      // in the view of the snapshot in force
};

class L4TableSync {
 public:
  explicit L4TableSync(DatapathMaps& maps) : maps_(maps) {}

  // Starts from what the kernel holds (pinned by an earlier run), so the
  // first sync rewrites only what differs from the config.
  void adopt_kernel_state();

  struct Result {
    SyncStats stats;
    double ms = 0;
    size_t services = 0;
  };
  // Writes what changed since the last sync. A failed write is retried by
  // the next sync: the kernel's contents are read back then.
  Result apply(const config::MeshSnapshot& snap);

 private:
  DatapathMaps& maps_;
  L4ViewBuilder view_;
  // What the kernel holds: the view last synced, or (after a restart, or a
  // failed write) what was read back from the kernel.
  bool synced_ = false;
  L4ServiceMap synced_view_;
  L4ServiceMap kernel_view_;
};

}  // namespace sluice
