// A reload that changed only Kubernetes Services, EndpointSlices and Pods
// (the everyday churn of a cluster: pods come and go, endpoints move) does
// not build the snapshot again. It patches the last good one: the services
// those objects touch are rebuilt, every other service, route and policy is
// shared with the previous snapshot, and the work is proportional to the
// change instead of to the mesh.
//
// Rejections standing in the last build stand in the patch too (the last
// good version of each rejected resource stays), as long as the change does
// not touch a rejected resource and the source reports the same loading
// errors: one invalid object must not make every reload of a large cluster
// a full build.
//
// Anything else (an Istio resource or a Secret changed, a new or fixed
// loading error, a change to a rejected resource, a service that clashes
// with another, a warning about a changed object) makes it decline, and the
// caller builds in full; both give the same snapshot.
#pragma once

#include <optional>

#include "snapshot_builder.h"

namespace sluice::config {

// Null when the change needs a full build. Leaves `loaded` as it found it
// in that case.
std::optional<BuildResult> patch_snapshot(LoadResult& loaded, uint64_t version, BuildMemo& memo);

}  // namespace sluice::config
