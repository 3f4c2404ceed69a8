// Pinned maps that hold only counters. A release that adds counters changes
// such a map's size, and libbpf refuses to reuse a pinned map of another
// shape, which would stop the new sluiced from loading beside (or after) a
// running older one. Counters are not state a restart must keep, so a
// reshaped one is unpinned and created anew instead.
#pragma once

#include <string>

#include "result.h"

struct bpf_map;

namespace sluice {

// Unpins <pin_dir>/<map name> if the map pinned there differs from `map`
// (type, key or value size, entries). Call between open and load. Returns
// whether it did; programs still attached keep the old map until replaced.
Result<bool> unpin_reshaped_counters(const bpf_map* map, const std::string& pin_dir);

}  // namespace sluice
