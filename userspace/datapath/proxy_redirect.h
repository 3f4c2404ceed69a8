// The userspace half of redirecting HTTP ports to the node proxy: telling
// the kernel which listening socket is the proxy's (connect4 redirects only
// while that socket is open and registered), and the original destination
// of an accepted connection.
#pragma once

#include <cstdint>
#include <optional>

#include "original_destination.h"
#include "sock_lb_loader.h"

namespace sluice {

// Puts the proxy's listening socket in sl_proxy_lsn: HTTP ports go to the
// proxy from now on, until the socket closes (the kernel then empties the
// slot, even on kill -9) or unregister_proxy_listener.
Status register_proxy_listener(MapHandle<uint32_t, sl_proxy_listener>& slot, int listen_fd);

// Empties the slot if it still holds `listen_fd`'s socket (a drain): new
// HTTP connects go to L4 at once. A slot taken over by another listener is
// left alone.
Status unregister_proxy_listener(MapHandle<uint32_t, sl_proxy_listener>& slot, int listen_fd);

// Whether the slot holds exactly this socket (by cookie).
bool proxy_listener_registered(const MapHandle<uint32_t, sl_proxy_listener>& slot, int listen_fd);

// What the client of an accepted connection asked for, by the accepted
// socket's peer address and local port (host byte order).
std::optional<OriginalDestination> original_destination(const MapHandle<sl_orig_dst_key, sl_orig_dst>& orig_dst,
                                                        uint32_t client_ip, uint16_t client_port, uint16_t proxy_port);

}  // namespace sluice
