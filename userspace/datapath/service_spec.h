// The kernel-facing description of one L4 service port: what the service
// writer turns into sl_services/sl_slots/sl_backends/sl_maglev entries.
// Addresses and ports are in host byte order here.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "consts.h"
#include "sharded_map.h"
#include "sock_lb_types.h"

namespace sluice {

struct BackendSpec {
  uint32_t addr = 0;
  uint16_t port = 0;
  uint32_t weight = 1;  // 0 takes the backend out of rotation
  bool ejected = false;

  bool same_endpoint(const BackendSpec& o) const { return addr == o.addr && port == o.port; }
  bool operator==(const BackendSpec&) const = default;
};

struct ServiceSpec {
  uint32_t vip = 0;
  uint16_t port = 0;
  uint8_t proto = 6;  // IPPROTO_TCP
  sl_lb_algo algo = SL_LB_RANDOM;
  uint32_t max_conns = SL_UNLIMITED;
  uint32_t maglev_size = SL_MAGLEV_DEFAULT_SIZE;  // used by CONSISTENT_HASH only
  bool l7 = false;  // an HTTP port: redirected to the node proxy while it is up
  // With l7: refused while the proxy is away instead of balanced at L4,
  // because authorization policies that only the proxy enforces apply.
  bool fail_closed = false;
  // Socket redirection (sock_redir) may short-cut its local connections;
  // false for a service that opted out.
  bool socket_redirect = true;
  std::vector<BackendSpec> backends;

  bool operator==(const ServiceSpec&) const = default;
};

// The kernel's view of the mesh: one L4 service per (VIP, port, protocol).
// Specs are immutable and shared between snapshots, so an unchanged service
// is the same object in both and comparing them costs a pointer compare.
using L4Key = std::tuple<uint32_t, uint16_t, uint8_t>;
inline L4Key l4_key(const ServiceSpec& s) { return {s.vip, s.port, s.proto}; }
using SharedServiceSpec = std::shared_ptr<const ServiceSpec>;
struct L4KeyHash {
  size_t operator()(const L4Key& k) const {
    uint64_t h = (uint64_t{std::get<0>(k)} << 24) ^ (uint64_t{std::get<1>(k)} << 8) ^ std::get<2>(k);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    return static_cast<size_t>(h ^ (h >> 33));
  }
};
using L4ServiceMap = ShardedMap<L4Key, SharedServiceSpec, L4KeyHash>;

sl_svc_key service_key(uint32_t vip, uint16_t port, uint8_t proto);
inline sl_svc_key service_key(const ServiceSpec& s) { return service_key(s.vip, s.port, s.proto); }

}  // namespace sluice
