// RAII owner of the socket load balancer's BPF object (bpf/sock_lb.bpf.c):
// open, size, load with pinned-map reuse, attach to a cgroup with pinned
// links, and typed handles over its maps.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cgroup.h"
#include "consts.h"
#include "map_fill.h"
#include "map_handle.h"
#include "result.h"
#include "sock_lb_types.h"

struct sock_lb_bpf;
struct bpf_link;

namespace sluice {

struct SockLbOptions {
  std::string pin_dir = SL_DEFAULT_PIN_DIR;
  uint32_t max_services = SL_DEFAULT_MAX_SERVICES;
  uint32_t max_backends = SL_DEFAULT_MAX_BACKENDS;
  uint32_t max_slot_entries = SL_DEFAULT_MAX_SLOT_ENTRIES;
  uint32_t udp_nat_entries = SL_DEFAULT_UDP_NAT_ENTRIES;
  uint32_t max_maglev_services = 16384;
  uint32_t orig_dst_entries = SL_DEFAULT_ORIG_DST_ENTRIES;
  // The node proxy that HTTP ports are redirected to (host byte order);
  // port 0 disables redirection.
  uint32_t proxy_ip = 0;
  uint16_t proxy_port = 0;
  // SO_MARK the proxy puts on its own upstream sockets.
  uint32_t bypass_mark = 0;
  // Redirects spread over [first, first + count) on proxy_ip, all delivered
  // to the proxy's listener by an sk_lookup program (bpf/sock_lb.bpf.c
  // sl_proxy_spread). count 0: no spread, redirects go to proxy_port.
  uint16_t proxy_spread_first = 0;
  uint16_t proxy_spread_count = 0;
  // false: policy refusals fail with EPERM even where the kernel could say
  // EACCES, as on a kernel without bpf_set_retval (tests that code path).
  bool policy_eacces = true;
};

// The errno of a connect() that an L4 authorization policy refuses: EACCES
// where cgroup sock_addr programs may call bpf_set_retval (6.1+), else EPERM,
// which every other refusal (egress, rate limit, breaker) fails with too.
// Probed once; the answer is the kernel's, not the version string's.
int policy_denial_errno();

struct SockLbMaps {
  MapHandle<sl_svc_key, sl_svc> services;
  MapHandle<sl_slot_key, uint32_t> slots;
  MapHandle<sl_backend_key, sl_backend> backends;
  MapHandle<sl_svc_key, sl_svc_counters> svc_counters;
  MapHandle<sl_backend_key, sl_backend_counters> backend_counters;
  MapHandle<sl_svc_key, uint32_t> maglev;  // value: inner map fd on update, id on lookup
  MapHandle<sl_udp_nat_key, sl_udp_nat> udp_nat;
  PerCpuArrayHandle<uint64_t> stats;
  MapHandle<sl_orig_dst_key, sl_orig_dst> orig_dst;
  MapHandle<uint32_t, sl_proxy_listener> proxy_listener;  // not pinned: see sock_lb_types.h
  MapHandle<sl_egress_key, uint32_t> egress;               // LPM trie: SL_EGRESS_ALLOW or _DENY
  MapHandle<sl_edge_key, sl_edge_counters> edges;          // istio_tcp_* per edge
  MapHandle<uint64_t, uint32_t> policy_sources;            // netns cookie -> source id (L4 authz)
  MapHandle<uint32_t, uint32_t> policy_dests;              // pod address (network order) -> policy set
  MapHandle<sl_pol_rule_key, uint32_t> policy_rules;       // SL_POL_ALLOW or _DENY
  MapHandle<uint32_t, sl_conn_bucket> conn_rate;           // source id -> connection bucket
  MapHandle<uint32_t, uint32_t> policy_peers;              // peer address (network order) -> source id
  MapHandle<sl_svc_key, sl_svc_rtt> rtt;                   // RTT and retransmits per service, at close
};

class SockLb {
 public:
  // Opens and loads the programs. Maps already pinned under options.pin_dir
  // are reused (their contents survive); the rest are created and pinned.
  static Result<std::unique_ptr<SockLb>> load(const SockLbOptions& options);

  ~SockLb();
  SockLb(const SockLb&) = delete;
  SockLb& operator=(const SockLb&) = delete;

  // Attaches every program to the cgroup, and with a proxy spread the
  // sk_lookup program to the network namespace at `netns` (where the proxy
  // listens). A link already pinned for this cgroup or namespace is adopted
  // and switched to the newly loaded program in place, so the hook never
  // goes empty across a restart.
  Status attach(const CgroupTarget& target, const std::string& netns = "/proc/self/ns/net");

  // Detaches the programs and removes their pinned links. Maps stay pinned.
  Status detach();

  const SockLbMaps& maps() const { return maps_; }
  // Entries and capacity of every table that can fill (not the arrays):
  // one key walk each, so call it seldom (the metrics cache it).
  std::vector<MapFill> map_fills() const;
  SockLbMaps& maps() { return maps_; }
  const std::string& pin_dir() const { return pin_dir_; }
  bool reused_maps() const { return reused_maps_; }
  int adopted_links() const { return adopted_links_; }

  // Removes everything sluice pinned under pin_dir (maps and links). Used by
  // `sluiced --cleanup` and by tests; the data path stops.
  static Status remove_pins(const std::string& pin_dir);

 private:
  SockLb() = default;
  std::string link_dir() const;

  sock_lb_bpf* skel_ = nullptr;
  std::vector<bpf_link*> links_;
  SockLbMaps maps_;
  std::string pin_dir_;
  bool reused_maps_ = false;
  bool spread_ = false;
  int adopted_links_ = 0;
};

}  // namespace sluice
