// /config_dump: the configuration in force, as the daemon holds it (the
// counterpart of Envoy's /config_dump for a mesh without Envoy): the
// snapshot's version, every Istio and sluice resource in it with its spec in
// Istio's own JSON field names and where it came from, and the diagnostics
// of the last reload (rejected resources and warnings). Kubernetes objects
// are counted, not dumped: at 100k Pods the dump would be the cluster, and
// Secrets never leave the daemon.
#pragma once

#include <string>
#include <string_view>

#include "mesh_snapshot.h"

namespace sluice {

// kind: only resources of this kind ("VirtualService", ...); empty: all.
std::string config_dump_json(const config::MeshSnapshot& snap, std::string_view kind);

}  // namespace sluice
