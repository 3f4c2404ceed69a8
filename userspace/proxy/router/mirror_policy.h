// Istio's mirror / mirrors: which endpoints get a shadow copy of a request,
// each mirror firing with its own percentage (absent: 100%). The copies are
// sent by upstream/shadow_writer.h.
#pragma once

#include <functional>
#include <memory>
#include <random>
#include <string_view>
#include <vector>

#include "request_router.h"

namespace sluice::proxy {

// Resolves a mirror's destination (service, port, subset) to its target,
// cached by the router under `key` (the mirror's Destination in the snapshot).
using MirrorTargetOf = std::function<std::shared_ptr<const RouteTarget>(
    const void* key, const config::Service&, const config::ServicePort&, std::string_view subset)>;

std::vector<MirrorTarget> mirror_targets(const RouteDecision& d, uint16_t original_port, std::minstd_rand& rng,
                                         const MirrorTargetOf& target_of);

}  // namespace sluice::proxy
