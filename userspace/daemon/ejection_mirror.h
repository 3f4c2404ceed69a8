// Outlier detection runs in the proxy; its ejections are also marked in the
// kernel's backend map, so L4 clients of the same service avoid the endpoint
// too, and unmarked when the ejection ends.
#pragma once

#include "cluster_registry.h"
#include "datapath_maps.h"

namespace sluice::daemon {

// Ticks the detectors, then marks or unmarks each ejection they report.
void mirror_ejections(proxy::ClusterRegistry& clusters, DatapathMaps& maps);

}  // namespace sluice::daemon
