// Istio's mirror / mirrors: which endpoints get a shadow copy of a request,
// each mirror firing with its own percentage (absent: 100%). The copies are
// sent by upstream/shadow_writer.h.
#pragma once

#include <random>
#include <vector>

#include "request_router.h"

namespace sluice::proxy {

std::vector<MirrorTarget> mirror_targets(const RouteDecision& d, uint16_t original_port, std::minstd_rand& rng);

}  // namespace sluice::proxy
