/* Map definitions of bpf/xdp_lb.bpf.c. BPF only. Sizes are defaults; the
 * loader resizes them before load. Every map is pinned by name. */
#ifndef SLUICE_BPF_XDP_LB_MAPS_H
#define SLUICE_BPF_XDP_LB_MAPS_H

#include "xdp_nat_maps.h"
#include "consts.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_XDP_DEFAULT_MAX_VIPS);
	__type(key, struct sl_xvip_key);
	__type(value, struct sl_xvip);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_xvips SEC(".maps");

/* Inner template: userspace creates one array per VIP, sized to its prime
 * table, fills it, then swaps it in with one outer update. */
struct sl_xmaglev_table {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAGLEV_DEFAULT_SIZE);
	__uint(map_flags, BPF_F_INNER_MAP);
	__type(key, __u32);
	/* struct sl_xbackend; declared by size because libbpf 1.1 cannot size
	 * a struct value of an inner map template after `bpftool gen object`. */
	__type(value, __u64);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, SL_XDP_DEFAULT_MAX_VIPS);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct sl_xmaglev_table);
} sl_xmaglev SEC(".maps");

/* Conntrack: client -> VIP 5-tuple to the flow's backend. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_XDP_DEFAULT_CT_ENTRIES);
	__type(key, struct sl_xct_key);
	__type(value, struct sl_xct);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_xct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, SL_XDP_DEFAULT_SRC_RANGES);
	__type(key, struct sl_xsrc_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_xsrc SEC(".maps");

/* Per VIP id: the generation a conntrack entry must carry to be used
 * without admitting its flow again (see struct sl_xvip_gen). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_XDP_DEFAULT_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct sl_xvip_gen);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_xvip_gen SEC(".maps");

/* The VIP prefilter: bit lb4_vip_filter_bit(key) is set for every VIP key
 * (several keys may share one), so a packet to no VIP passes after one
 * array read, before any hash lookup. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_XVIP_FILTER_WORDS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sl_xvip_filt SEC(".maps");

/* Egress devices known to take XDP frames (ndo_xdp_xmit), by ifindex;
 * written by userspace from the kernel's xdp_features. The forward path
 * redirects only to these, with XDP_PASS (the stack) as the fallback
 * action for every other device. Not pinned: a new program starts empty
 * and the loader fills it. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, SL_XDP_TX_DEVICES);
	__type(key, __u32);
	__type(value, __u32);
} sl_xtx SEC(".maps");

/* The flow cache: per CPU, direct-mapped by lb4_flow_slot_index, a copy of
 * a conntrack entry with its key. A hit whose generation is current skips
 * the conntrack's hash lookup; anything else goes to the conntrack and
 * refills the slot. Not pinned: a new program starts with an empty cache. */
struct sl_xflow_slot {
	struct sl_xct_key key;
	struct sl_xct ct;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_XDP_FLOW_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct sl_xflow_slot);
} sl_xflows SEC(".maps");

#endif
