// DestinationRule consistentHash: the key a request hashes to (source IP, a
// header, a query parameter or a cookie), read as Envoy's hash policy does.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>

#include "route_matcher.h"
#include "traffic_policy.h"

namespace sluice::proxy {

// nullopt when the policy is not consistent hashing or the request lacks the
// named header/parameter/cookie. A missing cookie with a ttl makes one
// (`set_cookie` gets the Set-Cookie value), so the client sticks from then on.
std::optional<uint64_t> request_hash(const config::LoadBalancerPolicy& lb, const RequestAttrs& req, uint32_t client_ip,
                                     std::string& set_cookie, std::minstd_rand& rng);

}  // namespace sluice::proxy
