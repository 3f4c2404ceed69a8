// Replies the proxy makes itself (routing failures, overflow, faults, bad
// requests), and the hop-by-hop headers it never forwards.
#pragma once

#include <string>

#include "http_types.h"

namespace sluice::proxy {

// Envoy's body for a circuit-breaker overflow, which users grep for.
inline constexpr const char* kOverflowBody =
    "upstream connect error or disconnect/reset before headers. reset reason: overflow\n";

Response local_reply(unsigned status, unsigned version, bool keep_alive, std::string body = {});

// Headers that describe one hop, not the message: never forwarded.
void strip_hop_by_hop(Fields& f);

}  // namespace sluice::proxy
