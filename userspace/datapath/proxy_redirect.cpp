#include "proxy_redirect.h"

#include <arpa/inet.h>

#include <ctime>

namespace sluice {

namespace {

Status write_beat(MapHandle<uint32_t, sl_node_state>& node, uint64_t ns) {
  sl_node_state state{};
  state.proxy_heartbeat_ns = ns;
  return node.update(0, state);
}

}  // namespace

Status beat_proxy_heartbeat(MapHandle<uint32_t, sl_node_state>& node) {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return write_beat(node, static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec));
}

Status clear_proxy_heartbeat(MapHandle<uint32_t, sl_node_state>& node) { return write_beat(node, 0); }

std::optional<OriginalDestination> original_destination(const MapHandle<sl_orig_dst_key, sl_orig_dst>& orig_dst,
                                                        uint32_t client_ip, uint16_t client_port) {
  sl_orig_dst_key key{};
  key.client_ip = htonl(client_ip);
  key.client_port = htons(client_port);
  auto v = orig_dst.lookup(key);
  if (!v) return std::nullopt;
  return OriginalDestination{ntohl(v->svc.vip), ntohs(v->svc.port), v->svc.proto, v->cookie};
}

}  // namespace sluice
