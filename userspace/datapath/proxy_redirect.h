// The userspace half of redirecting HTTP ports to the node proxy: the
// heartbeat that keeps redirection on, and the original destination of an
// accepted connection.
#pragma once

#include <cstdint>
#include <optional>

#include "original_destination.h"
#include "sock_lb_loader.h"

namespace sluice {

// Marks the proxy alive now (CLOCK_MONOTONIC, as bpf_ktime_get_ns). The
// kernel redirects only while the last beat is younger than
// SL_PROXY_STALE_NS, so the proxy beats about once a second.
Status beat_proxy_heartbeat(MapHandle<uint32_t, sl_node_state>& node);

// Stops redirection at once (clean shutdown): HTTP ports fall back to L4.
Status clear_proxy_heartbeat(MapHandle<uint32_t, sl_node_state>& node);

// What the client of an accepted connection asked for, by the accepted
// socket's peer address (host byte order).
std::optional<OriginalDestination> original_destination(const MapHandle<sl_orig_dst_key, sl_orig_dst>& orig_dst,
                                                        uint32_t client_ip, uint16_t client_port);

}  // namespace sluice
