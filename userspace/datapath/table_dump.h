// Human-readable dump of the kernel service tables and verdict counters,
// shared by `sluicectl dump` and (later) the admin API.
#pragma once

#include <string>

#include "datapath_maps.h"
#include "map_handle.h"

namespace sluice {

std::string dump_services(const DatapathMaps& maps);
std::string dump_stats(const PerCpuArrayHandle<uint64_t>& stats);

}  // namespace sluice
