// x-request-id for requests that arrive without one, as Envoy generates it:
// a random (version 4 style) UUID.
#pragma once

#include <array>
#include <random>

namespace sluice::proxy {

void new_request_id(std::minstd_rand& rng, std::array<char, 36>& id);

}  // namespace sluice::proxy
