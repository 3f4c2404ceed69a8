#include "proxy_redirect.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cerrno>

namespace sluice {

namespace {

std::optional<uint64_t> socket_cookie(int fd) {
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) != 0) return std::nullopt;
  return cookie;
}

}  // namespace

Status register_proxy_listener(MapHandle<uint32_t, sl_proxy_listener>& slot, int listen_fd) {
  sl_proxy_listener v{};
  v.sock = static_cast<uint64_t>(listen_fd);
  return slot.update(SL_PROXY_LISTENER_KEY, v);
}

Status unregister_proxy_listener(MapHandle<uint32_t, sl_proxy_listener>& slot, int listen_fd) {
  // Between the check and the delete another process could take the slot;
  // only a hand-over between two proxies (not done yet) would race here.
  if (!proxy_listener_registered(slot, listen_fd)) return {};
  return slot.erase(SL_PROXY_LISTENER_KEY);
}

bool proxy_listener_registered(const MapHandle<uint32_t, sl_proxy_listener>& slot, int listen_fd) {
  const auto ours = socket_cookie(listen_fd);
  const auto held = slot.lookup(SL_PROXY_LISTENER_KEY);
  return ours && held && held->sock == *ours;
}

std::optional<OriginalDestination> original_destination(const MapHandle<sl_orig_dst_key, sl_orig_dst>& orig_dst,
                                                        uint32_t client_ip, uint16_t client_port, uint16_t proxy_port) {
  sl_orig_dst_key key{};
  key.client_ip = htonl(client_ip);
  key.client_port = htons(client_port);
  key.proxy_port = htons(proxy_port);
  auto v = orig_dst.lookup(key);
  if (!v) {
    // Recorded by the programs of a sluiced from before the port spread,
    // which left the proxy port out of the key: a connection it queued on a
    // listener just handed over to us (docs/operations.md, "Upgrades").
    key.proxy_port = 0;
    v = orig_dst.lookup(key);
  }
  if (!v) return std::nullopt;
  return OriginalDestination{ntohl(v->svc.vip), ntohs(v->svc.port), v->svc.proto, v->cookie};
}

}  // namespace sluice
