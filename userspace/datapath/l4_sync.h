// Brings the kernel's service tables from one L4 view to another, touching
// only what changed.
#pragma once

#include <vector>

#include "datapath_maps.h"
#include "service_spec.h"

namespace sluice {

struct L4Diff {
  std::vector<ServiceSpec> upserts;  // new or changed services
  std::vector<L4Key> removals;
  bool empty() const { return upserts.empty() && removals.empty(); }
};

// Ejection marks are runtime state owned by outlier detection, not config:
// they do not make a service differ.
L4Diff diff_l4(const L4ServiceMap& before, const L4ServiceMap& after);

// The services the kernel holds now: what a restarted daemon starts from, so
// it adopts pinned state instead of clearing it.
L4ServiceMap read_l4(const DatapathMaps& maps);

struct SyncStats {
  size_t upserts = 0;
  size_t removals = 0;
  size_t failures = 0;
};

// Applies the diff: removals first (a VIP that moved frees its key), then
// upserts. Keeps going past a failing service and reports the first error.
Status apply_l4_diff(DatapathMaps& maps, const L4Diff& diff, SyncStats* stats = nullptr);

}  // namespace sluice
