// A reload that changed only Kubernetes Services, EndpointSlices and Pods
// (the everyday churn of a cluster: pods come and go, endpoints move) does
// not build the snapshot again. It patches the last good one: the services
// those objects touch are rebuilt, every other service, route and policy is
// shared with the previous snapshot, and the work is proportional to the
// change instead of to the mesh.
//
// Anything else (an Istio resource or a Secret changed, a loading error, a
// service that clashes with another, a warning about a changed object) makes
// it decline, and the caller builds in full; both give the same snapshot.
#pragma once

#include <optional>

#include "snapshot_builder.h"

namespace sluice::config {

// Null when the change needs a full build. Leaves `loaded` as it found it
// in that case.
std::optional<BuildResult> patch_snapshot(LoadResult& loaded, uint64_t version, BuildMemo& memo);

}  // namespace sluice::config
