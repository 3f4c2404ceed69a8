/* Map definitions of bpf/sock_lb.bpf.c. BPF only. Sizes here are defaults;
 * the loader resizes with bpf_map__set_max_entries before load. Every map is
 * pinned by name under the loader's pin directory, so a restarted daemon
 * adopts them. */
#ifndef SLUICE_BPF_SOCK_LB_MAPS_H
#define SLUICE_BPF_SOCK_LB_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "consts.h"
#include "sock_lb_types.h"
#include "stat_reasons.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_DEFAULT_MAX_SERVICES);
	__type(key, struct sl_svc_key);
	__type(value, struct sl_svc);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_services SEC(".maps");

/* The index space of connect4's walk past ejected backends: one entry per
 * slot, values unused. bpf_for_each_map_elem over it is the walk's loop. Not
 * pinned: it holds nothing. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAX_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} sl_walk SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_DEFAULT_MAX_SLOT_ENTRIES);
	__type(key, struct sl_slot_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_DEFAULT_MAX_BACKENDS);
	__type(key, struct sl_backend_key);
	__type(value, struct sl_backend);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_DEFAULT_MAX_SERVICES);
	__type(key, struct sl_svc_key);
	__type(value, struct sl_svc_counters);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_svc_cnt SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_DEFAULT_MAX_BACKENDS);
	__type(key, struct sl_backend_key);
	__type(value, struct sl_backend_counters);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_be_cnt SEC(".maps");

/* Inner template: userspace creates one array per consistent-hash service,
 * sized to its table, fills it, then swaps it in with one outer update. */
struct sl_maglev_table {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAGLEV_DEFAULT_SIZE);
	__uint(map_flags, BPF_F_INNER_MAP);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 16384);
	__type(key, struct sl_svc_key);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct sl_maglev_table);
} sl_maglev SEC(".maps");

#include "sock_state_map.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_DEFAULT_UDP_NAT_ENTRIES);
	__type(key, struct sl_udp_nat_key);
	__type(value, struct sl_udp_nat);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_udp_nat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_DEFAULT_ORIG_DST_ENTRIES);
	__type(key, struct sl_orig_dst_key);
	__type(value, struct sl_orig_dst);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_orig_dst SEC(".maps");

/* TCP metrics per edge (maps/sock_lb_types.h), read by sluiced at scrape.
 * One shared LRU with atomic adds, not a per-CPU one: it is written twice
 * per connection (established, closed), never per packet, so contention is
 * nil, and a per-CPU map would preallocate entries x 32 bytes x every
 * possible CPU (134 MB on a 64-CPU node) for counters that fit in 7 MB. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_DEFAULT_EDGE_ENTRIES);
	__type(key, struct sl_edge_key);
	__type(value, struct sl_edge_counters);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_edge_cnt SEC(".maps");

/* Egress ranges (maps/sock_lb_types.h): written by sluiced from the
 * Sidecar's outboundTrafficPolicy and the ServiceEntries. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SL_DEFAULT_EGRESS_RANGES);
	__type(key, struct sl_egress_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_egress SEC(".maps");

/* L4 authorization (maps/sock_lb_types.h): written by sluiced from the
 * AuthorizationPolicies that need only L4 facts and the pods it found. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_DEFAULT_POLICY_SOURCES);
	__type(key, __u64); /* network namespace cookie */
	__type(value, __u32); /* source id */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_pol_src SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_DEFAULT_POLICY_DESTS);
	__type(key, __be32); /* pod address */
	__type(value, __u32); /* policy set id */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_pol_dst SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_DEFAULT_POLICY_RULES);
	__type(key, struct sl_pol_rule_key);
	__type(value, __u32); /* SL_POL_ALLOW or _DENY */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_pol_rule SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_DEFAULT_POLICY_DESTS);
	__type(key, __be32); /* a peer's address */
	__type(value, __u32); /* source id, or SL_POL_SRC_TRUSTED */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_pol_peer SEC(".maps");

/* Connection-rate buckets by source id (maps/sock_lb_types.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_DEFAULT_CONN_RATE_SOURCES);
	__type(key, __u32);
	__type(value, struct sl_conn_bucket);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_conn_rate SEC(".maps");

/* RTT and retransmits per destination service (maps/sock_lb_types.h),
 * added by sockops at close. A counter map: a reshaped pin is replaced. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_DEFAULT_RTT_SERVICES);
	__type(key, struct sl_svc_key);
	__type(value, struct sl_svc_rtt);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_svc_rtt SEC(".maps");

/* The node proxy's listening socket (maps/sock_lb_types.h says why a
 * sockmap). Not pinned: it must never outlive the socket's owner's view, and
 * the program that reads it is kept alive by its pinned link, so after a
 * crash the old program sees the emptied slot until a new sluiced replaces it. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct sl_proxy_listener));
} sl_proxy_lsn SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_STATS_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_stats SEC(".maps");

/* Counter entries are created by the kernel on first use, so userspace
 * writes only configuration. A lost creation race is harmless: the entry
 * exists afterwards either way. */
static __always_inline void *lb4_counters(void *map, const void *key, const void *zero)
{
	void *v = bpf_map_lookup_elem(map, key);

	if (v)
		return v;
	bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(map, key);
}

static __always_inline void lb4_count(__u32 reason)
{
	__u64 *v = bpf_map_lookup_elem(&sl_stats, &reason);
	if (v)
		*v += 1;
}

#endif
