// The admin API's views of the config in force, for people and for
// `sluicectl routes` / `endpoints`: /routes (VirtualService routes per host,
// Istio's defaults applied, as the proxy matches them) and /endpoints
// (each service port's endpoints, with the kernel's connection counters).
#pragma once

#include <string>
#include <string_view>

#include "datapath_maps.h"
#include "mesh_snapshot.h"

namespace sluice {

// `host`: only routes whose host contains it (empty: all). Mesh routes under
// "mesh", each Gateway's under "gateway:<namespace>/<name>".
std::string routes_json(const config::MeshSnapshot& snap, std::string_view host);

// `service`: only services whose FQDN contains it (empty: all).
std::string endpoints_json(const config::MeshSnapshot& snap, const DatapathMaps& maps, std::string_view service);

}  // namespace sluice
